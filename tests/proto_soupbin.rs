//! SoupBinTCP 4.1: packet round trips, golden layouts, login fields, and framing of
//! split and merged TCP chunks.

use std::ops::ControlFlow;

use proptest::prelude::*;
use tickgate::proto::soupbin::*;
use tickgate::proto::wire::{Alpha, BufferTooSmall};

fn login_request() -> LoginRequest {
    LoginRequest {
        username: Alpha::padded("DEMO1"),
        password: Alpha::padded("secret"),
        requested_session: Alpha::SPACES,
        requested_sequence_number: 42,
        requested_heartbeat_timeout_ms: 15_000,
    }
}

fn login_accepted() -> LoginAccepted {
    LoginAccepted {
        session: Alpha::padded("S1"),
        sequence_number: 7,
    }
}

/// One packet of every type, with the direction that receives it.
fn every_packet() -> Vec<(Packet<'static>, Direction)> {
    use Direction::*;
    vec![
        (Packet::Debug(b"hello"), ClientToServer),
        (Packet::Debug(b"hi"), ServerToClient),
        (Packet::LoginAccepted(login_accepted()), ServerToClient),
        (
            Packet::LoginRejected(LoginRejectReason::NotAuthorized),
            ServerToClient,
        ),
        (
            Packet::LoginRejected(LoginRejectReason::SessionNotAvailable),
            ServerToClient,
        ),
        (Packet::SequencedData(b"Sxxxxxxxxx"), ServerToClient),
        (Packet::ServerHeartbeat, ServerToClient),
        (Packet::EndOfSession, ServerToClient),
        (Packet::LoginRequest(login_request()), ClientToServer),
        (
            Packet::UnsequencedData(b"X\0\0\0\x01\0\0\0\0"),
            ClientToServer,
        ),
        (Packet::ClientHeartbeat, ClientToServer),
        (Packet::LogoutRequest, ClientToServer),
    ]
}

fn encode(packet: &Packet<'_>) -> Vec<u8> {
    let mut buf = vec![0; packet.encoded_len()];
    assert_eq!(packet.encode(&mut buf), Ok(buf.len()));
    buf
}

#[test]
fn every_packet_type_round_trips() {
    for (packet, direction) in every_packet() {
        let bytes = encode(&packet);
        let (decoded, used) = decode_frame(&bytes, direction).unwrap().unwrap();
        assert_eq!((decoded, used), (packet, bytes.len()));
    }
}

#[test]
fn login_request_has_the_spec_layout() {
    let bytes = encode(&Packet::LoginRequest(login_request()));
    let mut golden = vec![0, 52, b'L'];
    golden.extend_from_slice(b"DEMO1 ");
    golden.extend_from_slice(b"secret    ");
    golden.extend_from_slice(b"          ");
    golden.extend_from_slice(b"                  42");
    golden.extend_from_slice(b"15000");
    assert_eq!(bytes, golden);
}

#[test]
fn login_accepted_and_heartbeat_have_the_spec_layout() {
    let bytes = encode(&Packet::LoginAccepted(login_accepted()));
    assert_eq!(&bytes[..3], &[0, 31, b'A']);
    assert_eq!(bytes[3..], *format!("{:<10}{:>20}", "S1", 7).as_bytes());
    assert_eq!(encode(&Packet::ServerHeartbeat), [0, 1, b'H']);
    assert_eq!(
        encode(&Packet::LoginRejected(LoginRejectReason::NotAuthorized)),
        [0, 2, b'J', b'A']
    );
}

fn login_with_fields(sequence: &[u8; 20], timeout: &[u8; 5]) -> Vec<u8> {
    let mut bytes = encode(&Packet::LoginRequest(login_request()));
    bytes[29..49].copy_from_slice(sequence);
    bytes[49..54].copy_from_slice(timeout);
    bytes
}

#[test]
fn login_numeric_fields_accept_spaces_on_either_side_and_blank_as_zero() {
    let bytes = login_with_fields(b"5                   ", b"     ");
    let Some((Packet::LoginRequest(login), _)) =
        decode_frame(&bytes, Direction::ClientToServer).unwrap()
    else {
        panic!("not a login");
    };
    assert_eq!(login.requested_sequence_number, 5);
    assert_eq!(login.requested_heartbeat_timeout_ms, 0);
}

#[test]
fn login_with_non_numeric_sequence_is_a_typed_error() {
    let bytes = login_with_fields(b"               12x45", b"  100");
    assert_eq!(
        decode_frame(&bytes, Direction::ClientToServer),
        Err(FrameError::Login(LoginError::NonNumeric(
            LoginField::RequestedSequenceNumber
        )))
    );
    let bytes = login_with_fields(b"                   1", b" 1 0 ");
    assert_eq!(
        decode_frame(&bytes, Direction::ClientToServer),
        Err(FrameError::Login(LoginError::NonNumeric(
            LoginField::RequestedHeartbeatTimeout
        )))
    );
}

#[test]
fn login_sequence_beyond_u64_is_an_overflow_error() {
    let bytes = login_with_fields(b"99999999999999999999", b"    0");
    assert_eq!(
        decode_frame(&bytes, Direction::ClientToServer),
        Err(FrameError::Login(LoginError::Overflow(
            LoginField::RequestedSequenceNumber
        )))
    );
}

#[test]
fn header_errors_are_reported_before_the_body_arrives() {
    let c2s = Direction::ClientToServer;
    assert_eq!(decode_frame(&[0, 0], c2s), Err(FrameError::ZeroLength));
    let too_long = (MAX_LENGTH_FIELD + 1) as u16;
    assert_eq!(
        decode_frame(&too_long.to_be_bytes(), c2s),
        Err(FrameError::TooLong { len: too_long })
    );
    assert_eq!(
        decode_frame(&[0, 5, b'Q'], c2s),
        Err(FrameError::UnknownType(b'Q'))
    );
    assert_eq!(
        decode_frame(&[0, 2, b'R'], c2s),
        Err(FrameError::WrongLength {
            packet_type: b'R',
            len: 2
        })
    );
    assert_eq!(
        decode_frame(&[0, 40, b'L'], c2s),
        Err(FrameError::WrongLength {
            packet_type: b'L',
            len: 40
        })
    );
    assert_eq!(decode_frame(&[0, 1], c2s), Ok(None));
    assert_eq!(decode_frame(&[0, 4, b'U', 1], c2s), Ok(None));
}

#[test]
fn packets_of_the_other_direction_are_unknown_types() {
    assert_eq!(
        decode_frame(&[0, 1, b'H'], Direction::ClientToServer),
        Err(FrameError::UnknownType(b'H'))
    );
    assert_eq!(
        decode_frame(&[0, 1, b'R'], Direction::ServerToClient),
        Err(FrameError::UnknownType(b'R'))
    );
    assert_eq!(
        decode_frame(&[0, 2, b'S', 1], Direction::ClientToServer),
        Err(FrameError::UnknownType(b'S'))
    );
}

#[test]
fn login_rejected_with_an_undefined_reason_is_an_error() {
    assert_eq!(
        decode_frame(&[0, 2, b'J', b'X'], Direction::ServerToClient),
        Err(FrameError::InvalidRejectReason(b'X'))
    );
}

#[test]
fn encoding_into_a_short_buffer_writes_nothing_and_says_how_much_is_needed() {
    let mut buf = [0xAAu8; 10];
    let packet = Packet::LoginAccepted(login_accepted());
    assert_eq!(
        packet.encode(&mut buf),
        Err(BufferTooSmall {
            needed_bytes: 33,
            available_bytes: 10
        })
    );
    assert_eq!(buf, [0xAA; 10]);
    let result = encode_sequenced_with(&mut buf, |out| {
        if out.len() < 20 {
            return Err(BufferTooSmall {
                needed_bytes: 20,
                available_bytes: out.len(),
            });
        }
        Ok(20)
    });
    assert_eq!(
        result,
        Err(BufferTooSmall {
            needed_bytes: 23,
            available_bytes: 10
        })
    );
}

fn stream_of(
    packets: &[(Packet<'static>, Direction)],
    direction: Direction,
) -> (Vec<u8>, Vec<String>) {
    let mut bytes = Vec::new();
    let mut expected = Vec::new();
    for (packet, _) in packets.iter().filter(|(_, d)| *d == direction) {
        bytes.extend(encode(packet));
        expected.push(format!("{packet:?}"));
    }
    (bytes, expected)
}

fn feed_in_chunks(
    framer: &mut Reassembler,
    bytes: &[u8],
    cuts: &[usize],
) -> Result<Vec<String>, FrameError> {
    let mut seen = Vec::new();
    let mut start = 0;
    for end in cuts.iter().copied().chain([bytes.len()]) {
        let end = end.clamp(start, bytes.len());
        let used = framer.feed(&bytes[start..end], |p| {
            seen.push(format!("{p:?}"));
            ControlFlow::Continue(())
        })?;
        assert_eq!(used, end - start);
        start = end;
    }
    Ok(seen)
}

#[test]
fn reassembler_yields_every_packet_when_fed_one_byte_at_a_time() {
    for direction in [Direction::ClientToServer, Direction::ServerToClient] {
        let (bytes, expected) = stream_of(&every_packet(), direction);
        let cuts: Vec<usize> = (1..bytes.len()).collect();
        let mut framer = Reassembler::new(direction);
        assert_eq!(feed_in_chunks(&mut framer, &bytes, &cuts), Ok(expected));
        assert_eq!(framer.pending_bytes(), 0);
    }
}

#[test]
fn reassembler_error_sticks_until_reset() {
    let mut framer = Reassembler::new(Direction::ClientToServer);
    let ok = |_: Packet<'_>| ControlFlow::Continue(());
    assert_eq!(framer.feed(&[0, 1, b'R', 0], ok), Ok(4));
    assert_eq!(framer.feed(&[0], ok), Err(FrameError::ZeroLength));
    assert_eq!(framer.feed(&[0, 1, b'R'], ok), Err(FrameError::ZeroLength));
    framer.reset();
    assert_eq!(framer.feed(&[0, 1, b'R'], ok), Ok(3));
}

#[test]
fn reassembler_break_leaves_the_rest_of_the_chunk_to_feed_again() {
    let (bytes, expected) = stream_of(&every_packet(), Direction::ClientToServer);
    let mut framer = Reassembler::new(Direction::ClientToServer);
    let mut seen = Vec::new();
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        let used = framer
            .feed(rest, |p| {
                seen.push(format!("{p:?}"));
                ControlFlow::Break(())
            })
            .unwrap();
        rest = &rest[used..];
    }
    assert_eq!(seen, expected);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn reassembler_fed_random_splits_of_a_valid_stream_yields_identical_packets(
        picks in prop::collection::vec(0usize..12, 1..40),
        cuts in prop::collection::vec(0usize..2000, 0..30),
        server_side in any::<bool>(),
    ) {
        let direction = if server_side { Direction::ClientToServer } else { Direction::ServerToClient };
        let all = every_packet();
        let chosen: Vec<_> = picks.iter().map(|&i| all[i]).collect();
        let (bytes, expected) = stream_of(&chosen, direction);
        let mut cuts = cuts;
        cuts.sort_unstable();
        let mut framer = Reassembler::new(direction);
        prop_assert_eq!(feed_in_chunks(&mut framer, &bytes, &cuts), Ok(expected));
        prop_assert_eq!(framer.pending_bytes(), 0);
    }
}

/// Feeds chunk by chunk, breaking after the packets `stops` picks and feeding the
/// rest of the chunk again, as a gateway does when its ring to the core is full.
fn feed_with_breaks(
    bytes: &[u8],
    cuts: &[usize],
    stops: &[bool],
    direction: Direction,
) -> Vec<String> {
    let mut framer = Reassembler::new(direction);
    let mut seen = Vec::new();
    let mut stop = stops.iter().cycle();
    let mut start = 0;
    for end in cuts.iter().copied().chain([bytes.len()]) {
        let end = end.clamp(start, bytes.len());
        let mut chunk = &bytes[start..end];
        loop {
            let used = framer
                .feed(chunk, |p| {
                    seen.push(format!("{p:?}"));
                    if *stop.next().unwrap() {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                })
                .unwrap();
            chunk = &chunk[used..];
            if chunk.is_empty() {
                break;
            }
        }
        start = end;
    }
    seen
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn reassembler_stopped_at_random_packets_and_fed_the_rest_again_loses_nothing(
        picks in prop::collection::vec(0usize..12, 1..30),
        cuts in prop::collection::vec(0usize..1500, 0..20),
        stops in prop::collection::vec(any::<bool>(), 1..8),
    ) {
        let direction = Direction::ClientToServer;
        let all = every_packet();
        let chosen: Vec<_> = picks.iter().map(|&i| all[i]).collect();
        let (bytes, expected) = stream_of(&chosen, direction);
        let mut cuts = cuts;
        cuts.sort_unstable();
        prop_assert_eq!(feed_with_breaks(&bytes, &cuts, &stops, direction), expected);
    }
}
