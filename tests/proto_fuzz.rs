//! Property tests: random and mutated bytes, in random TCP splits, through the
//! SoupBinTCP reassembler and the OUCH, ITCH and MoldUDP64 decoders. Nothing panics
//! and every input ends in a defined outcome: packets, then possibly one typed error.
//!
//! CI runs a few thousand cases per property; `cargo test --release --test proto_fuzz
//! -- --ignored` runs the million-case variants.

use std::ops::ControlFlow;

use proptest::prelude::*;
use tickgate::proto::itch::Message;
use tickgate::proto::moldudp::DownstreamPacket;
use tickgate::proto::ouch::{Inbound, Outbound};
use tickgate::proto::soupbin::{Direction, FrameError, Packet, Reassembler, decode_frame};

const CI_CASES: u32 = 3_000;
const LONG_CASES: u32 = 1_000_000;

/// Outcome of decoding a whole stream: the packets (OUCH-decoded where they carry
/// data) and the error that ended it, if any.
type Outcome = (Vec<String>, Option<FrameError>);

fn describe(packet: Packet<'_>) -> String {
    match packet {
        Packet::UnsequencedData(b) => format!("U {:?}", Inbound::decode(b)),
        Packet::SequencedData(b) => format!("S {:?}", Outbound::decode(b)),
        other => format!("{other:?}"),
    }
}

/// The reference: `decode_frame` over the whole stream at once.
fn decode_whole(bytes: &[u8], direction: Direction) -> Outcome {
    let mut packets = Vec::new();
    let mut rest = bytes;
    loop {
        match decode_frame(rest, direction) {
            Ok(Some((packet, used))) => {
                packets.push(describe(packet));
                rest = &rest[used..];
            }
            Ok(None) => return (packets, None),
            Err(e) => return (packets, Some(e)),
        }
    }
}

fn feed_split(bytes: &[u8], cuts: &[usize], direction: Direction) -> Outcome {
    let mut framer = Reassembler::new(direction);
    let mut packets = Vec::new();
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut start = 0;
    for end in cuts.into_iter().chain([bytes.len()]) {
        let fed = framer.feed(&bytes[start..end], |p| {
            packets.push(describe(p));
            ControlFlow::Continue(())
        });
        if let Err(e) = fed {
            return (packets, Some(e));
        }
        start = end;
    }
    (packets, None)
}

fn check_stream(bytes: &[u8], cuts: &[usize], server_side: bool) -> Result<(), TestCaseError> {
    let direction = if server_side {
        Direction::ClientToServer
    } else {
        Direction::ServerToClient
    };
    prop_assert_eq!(
        feed_split(bytes, cuts, direction),
        decode_whole(bytes, direction)
    );
    Ok(())
}

fn packet_bytes() -> impl Strategy<Value = Vec<u8>> {
    let body = prop::collection::vec(any::<u8>(), 0..80);
    let packet_type = prop::sample::select(&b"+AJSHZLUROX"[..]);
    (packet_type, body, 0u8..4).prop_map(|(t, body, skew)| {
        let len = (body.len() + 1).saturating_sub(usize::from(skew % 2)) as u16;
        let mut bytes = len.to_be_bytes().to_vec();
        bytes.push(t);
        bytes.extend(body);
        bytes
    })
}

/// Streams of plausible packets (right type bytes, mostly right lengths), with random
/// byte flips, so the decoders get past the header checks.
fn plausible_stream() -> impl Strategy<Value = Vec<u8>> {
    let packets = prop::collection::vec(packet_bytes(), 0..12);
    let flips = prop::collection::vec((any::<usize>(), any::<u8>()), 0..4);
    (packets, flips).prop_map(|(packets, flips)| {
        let mut bytes = packets.concat();
        for (at, value) in flips {
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] = value;
            }
        }
        bytes
    })
}

/// OUCH-shaped bytes: a real type byte and a length near the real ones.
fn ouch_like() -> impl Strategy<Value = Vec<u8>> {
    let message_type = prop::sample::select(&b"OUXMCDEQSAJIGKTRBP"[..]);
    (message_type, prop::collection::vec(any::<u8>(), 0..100)).prop_map(|(t, mut body)| {
        body.insert(0, t);
        body
    })
}

/// Valid OUCH messages of both directions, encoded.
fn valid_ouch() -> Vec<Vec<u8>> {
    use tickgate::proto::ouch::*;
    use tickgate::proto::wire::Alpha;
    let options = Options {
        min_qty: Some(100),
        max_floor: Some(10),
        user_ref_idx: Some(1),
        ..Options::NONE
    };
    let order = EnterOrder {
        options,
        ..EnterOrder::new(1, Side::Buy, 500, Alpha::padded("AAPL"), Price(1))
    };
    let executed = OrderExecuted {
        timestamp: 1,
        user_ref_num: 1,
        quantity: 5,
        price: Price(1),
        liquidity_flag: LiquidityFlag::ADDED,
        match_number: 3,
        options: Options::user_ref_idx_only(2),
    };
    let every_option = Options {
        firm: Some(Alpha::padded("FIRM")),
        customer_type: Some(b'R'),
        price_type: Some(PriceType::Limit),
        peg_offset: Some(-5),
        discretion_price: Some(Price(7)),
        post_only: Some(PostOnly::PostOnly),
        expire_time: Some(60),
        group_id: Some(3),
        locate_broker: Some(Alpha::padded("LB")),
        ..options
    };
    let replace = ReplaceOrder {
        options: Options {
            side: Some(Side::Sell),
            expire_time: Some(9),
            ..options
        },
        ..ReplaceOrder::new(1, 2, 5, Price(3))
    };
    let messages = [
        Inbound::EnterOrder(order).encode_to_vec(),
        Inbound::EnterOrder(EnterOrder {
            options: every_option,
            ..order
        })
        .encode_to_vec(),
        Inbound::ReplaceOrder(replace).encode_to_vec(),
        Inbound::MassCancel(MassCancel {
            user_ref_num: 4,
            firm: Alpha::padded("FIRM"),
            symbol: Alpha::padded("AAPL"),
            options: Options {
                side: Some(Side::Buy),
                group_id: Some(1),
                ..Options::NONE
            },
        })
        .encode_to_vec(),
        Inbound::ReplaceOrder(ReplaceOrder::new(1, 2, 5, Price(3))).encode_to_vec(),
        Inbound::CancelOrder(CancelOrder {
            user_ref_num: 1,
            quantity: 0,
            options,
        })
        .encode_to_vec(),
        Outbound::OrderExecuted(executed).encode_to_vec(),
    ];
    messages.to_vec()
}

trait EncodeToVec {
    fn encode_to_vec(&self) -> Vec<u8>;
}

impl EncodeToVec for Inbound {
    fn encode_to_vec(&self) -> Vec<u8> {
        let mut buf = vec![0; self.encoded_len()];
        self.encode(&mut buf).unwrap();
        buf
    }
}

impl EncodeToVec for Outbound {
    fn encode_to_vec(&self) -> Vec<u8> {
        let mut buf = vec![0; self.encoded_len()];
        self.encode(&mut buf).unwrap();
        buf
    }
}

/// Valid messages with a few bytes changed, then cut or extended.
fn mutated_ouch() -> impl Strategy<Value = Vec<u8>> {
    let flips = prop::collection::vec((any::<usize>(), any::<u8>()), 0..3);
    let tail = prop::collection::vec(any::<u8>(), 0..8);
    (0..valid_ouch().len(), flips, any::<usize>(), tail).prop_map(|(pick, flips, cut, tail)| {
        let mut bytes = valid_ouch().swap_remove(pick);
        for (at, value) in flips {
            let i = at % bytes.len();
            bytes[i] = value;
        }
        match cut % 3 {
            0 => bytes.truncate(cut % (bytes.len() + 1)),
            1 => bytes.extend(tail),
            _ => {}
        }
        bytes
    })
}

/// The session layer's view ([`Inbound::view`]) answers as [`Inbound::decode`]: the
/// same error, or the same message, each option read through [`OptionValues`] equal to
/// the decoded one.
fn check_view(bytes: &[u8]) -> Result<(), TestCaseError> {
    use tickgate::proto::ouch::OptionValues;
    let view = Inbound::view(bytes);
    match (Inbound::decode(bytes), view) {
        (Ok(decoded), Ok(view)) => {
            prop_assert_eq!(view.to_decoded(), decoded);
            prop_assert_eq!(view.user_ref_idx(), decoded.user_ref_idx());
            prop_assert_eq!(view.new_user_ref_num(), decoded.new_user_ref_num());
            let (v, d) = (view.options(), decoded.options());
            macro_rules! same {
                ($($field:ident),+) => { $(prop_assert_eq!(v.$field(), d.$field, "{}", stringify!($field));)+ };
            }
            same!(
                secondary_ord_ref_num,
                firm,
                min_qty,
                customer_type,
                max_floor,
                price_type,
                peg_offset,
                discretion_price,
                discretion_price_type,
                discretion_peg_offset,
                post_only,
                random_reserves,
                route,
                expire_time,
                trade_now,
                handle_inst,
                bbo_weight_indicator,
                display_quantity,
                display_price,
                group_id,
                shares_located,
                locate_broker,
                side,
                user_ref_idx
            );
            prop_assert_eq!(v.tags(), d.tags());
        }
        (Err(decoded), Err(view)) => prop_assert_eq!(view, decoded),
        (decoded, view) => prop_assert!(false, "decode {decoded:?} but view {view:?}"),
    }
    Ok(())
}

fn check_ouch(bytes: &[u8]) -> Result<(), TestCaseError> {
    check_view(bytes)?;
    if let Ok(message) = Inbound::decode(bytes) {
        let mut buf = vec![0; message.encoded_len()];
        message.encode(&mut buf).unwrap();
        prop_assert_eq!(Inbound::decode(&buf), Ok(message));
    }
    if let Ok(message) = Outbound::decode(bytes) {
        let mut buf = vec![0; message.encoded_len()];
        message.encode(&mut buf).unwrap();
        prop_assert_eq!(Outbound::decode(&buf), Ok(message));
    }
    Ok(())
}

fn check_itch_and_mold(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(message) = Message::decode(bytes) {
        let mut buf = [0u8; Message::MAX_LEN];
        let len = message.encode(&mut buf).unwrap();
        prop_assert_eq!(&buf[..len], bytes, "ITCH decode is exact");
    }
    if let Ok(packet) = DownstreamPacket::parse(bytes) {
        let count = packet.messages().count();
        if !packet.is_end_of_session() {
            prop_assert_eq!(count, usize::from(packet.header.message_count));
        }
    }
    Ok(())
}

fn itch_like() -> impl Strategy<Value = Vec<u8>> {
    let message_type = prop::sample::select(&b"SRHAECXDUP"[..]);
    (message_type, prop::collection::vec(any::<u8>(), 10..44)).prop_map(|(t, mut body)| {
        body.insert(0, t);
        body
    })
}

macro_rules! properties {
    ($cases:expr, $($attr:meta)?) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases($cases))]

            $(#[$attr])?
            #[test]
            fn random_bytes_in_random_splits_frame_like_the_whole_stream(
                bytes in prop::collection::vec(any::<u8>(), 0..600),
                cuts in prop::collection::vec(any::<usize>(), 0..20),
                server_side in any::<bool>(),
            ) {
                check_stream(&bytes, &cuts, server_side)?;
            }

            $(#[$attr])?
            #[test]
            fn mutated_packet_streams_in_random_splits_frame_like_the_whole_stream(
                bytes in plausible_stream(),
                cuts in prop::collection::vec(any::<usize>(), 0..20),
                server_side in any::<bool>(),
            ) {
                check_stream(&bytes, &cuts, server_side)?;
            }

            $(#[$attr])?
            #[test]
            fn ouch_decoders_answer_any_bytes_and_reencode_what_they_accept(
                bytes in prop_oneof![prop::collection::vec(any::<u8>(), 0..200), ouch_like(), mutated_ouch()],
            ) {
                check_ouch(&bytes)?;
            }

            $(#[$attr])?
            #[test]
            fn itch_and_moldudp_decoders_answer_any_bytes(
                bytes in prop_oneof![prop::collection::vec(any::<u8>(), 0..200), itch_like()],
            ) {
                check_itch_and_mold(&bytes)?;
            }
        }
    };
}

mod ci {
    use super::*;
    properties!(CI_CASES,);
}

mod long {
    use super::*;
    properties!(LONG_CASES, ignore = "long: a million cases per property");
}
