//! OUCH 5.0: round trips of every message, golden layouts from the spec's field
//! tables, TagValue appendages, typed errors and their reject reasons, UserRefNums.

use tickgate::proto::ouch::*;
use tickgate::proto::wire::{Alpha, FieldKind, InvalidValue};

fn symbol() -> Symbol {
    Alpha::padded("AAPL")
}

fn enter_order() -> EnterOrder {
    EnterOrder {
        cl_ord_id: Alpha::padded("ORDER-1"),
        options: Options {
            min_qty: Some(100),
            user_ref_idx: Some(2),
            ..Options::NONE
        },
        ..EnterOrder::new(1, Side::Buy, 500, symbol(), Price(1_234_500))
    }
}

fn user_ref_idx(n: u8) -> Options {
    Options::user_ref_idx_only(n)
}

fn every_inbound() -> Vec<Inbound> {
    let firm = Alpha::padded("FIRM");
    vec![
        Inbound::EnterOrder(enter_order()),
        Inbound::EnterOrder(EnterOrder::new(
            2,
            Side::SellShort,
            1,
            symbol(),
            Price::MARKET,
        )),
        Inbound::ReplaceOrder(ReplaceOrder {
            options: Options {
                side: Some(Side::Sell),
                max_floor: Some(10),
                ..Options::NONE
            },
            ..ReplaceOrder::new(1, 3, 600, Price(1_000_000))
        }),
        Inbound::CancelOrder(CancelOrder {
            user_ref_num: 1,
            quantity: 0,
            options: Options::NONE,
        }),
        Inbound::CancelOrder(CancelOrder {
            user_ref_num: 1,
            quantity: 5,
            options: user_ref_idx(9),
        }),
        Inbound::ModifyOrder(ModifyOrder {
            user_ref_num: 1,
            side: Side::SellShortExempt,
            quantity: 4,
            options: Options::NONE,
        }),
        Inbound::MassCancel(MassCancel {
            user_ref_num: 4,
            firm,
            symbol: Alpha::SPACES,
            options: Options::NONE,
        }),
        Inbound::DisableOrderEntry(DisableOrderEntry {
            user_ref_num: 5,
            firm,
            options: Options::NONE,
        }),
        Inbound::EnableOrderEntry(EnableOrderEntry {
            user_ref_num: 6,
            firm,
            options: user_ref_idx(1),
        }),
        Inbound::AccountQuery(AccountQuery {
            options: Options::NONE,
        }),
        Inbound::AccountQuery(AccountQuery {
            options: user_ref_idx(3),
        }),
    ]
}

fn accepted() -> OrderAccepted {
    OrderAccepted {
        timestamp: 34_200_000_000_000,
        user_ref_num: 1,
        side: Side::Buy,
        quantity: 500,
        symbol: symbol(),
        price: Price(1_234_500),
        time_in_force: TimeInForce::Day,
        display: Display::Visible,
        order_reference_number: 77,
        capacity: Capacity::Agency,
        intermarket_sweep_eligibility: IntermarketSweepEligibility::NotEligible,
        cross_type: CrossType::ContinuousMarket,
        order_state: OrderState::Live,
        cl_ord_id: Alpha::padded("ORDER-1"),
        options: Options::NONE,
    }
}

fn every_outbound() -> Vec<Outbound> {
    let t = 1_000;
    let firm = Alpha::padded("FIRM");
    let a = accepted();
    let none = Options::NONE;
    vec![
        Outbound::SystemEvent(SystemEvent {
            timestamp: t,
            event_code: SystemEventCode::StartOfDay,
        }),
        Outbound::OrderAccepted(a),
        Outbound::OrderAccepted(OrderAccepted {
            options: Options {
                firm: Some(firm),
                post_only: Some(PostOnly::PostOnly),
                ..none
            },
            ..a
        }),
        Outbound::OrderReplaced(OrderReplaced {
            timestamp: t,
            orig_user_ref_num: 1,
            user_ref_num: 2,
            side: Side::Buy,
            quantity: 400,
            symbol: symbol(),
            price: Price(1),
            time_in_force: TimeInForce::Ioc,
            display: Display::Hidden,
            order_reference_number: 78,
            capacity: Capacity::Principal,
            intermarket_sweep_eligibility: IntermarketSweepEligibility::Eligible,
            cross_type: CrossType::Closing,
            order_state: OrderState::Dead,
            cl_ord_id: Alpha::SPACES,
            options: none,
        }),
        Outbound::OrderCanceled(OrderCanceled {
            timestamp: t,
            user_ref_num: 1,
            quantity: 5,
            reason: CancelReason::UserRequested,
            options: none,
        }),
        Outbound::OrderCanceled(OrderCanceled {
            timestamp: t,
            user_ref_num: 1,
            quantity: 5,
            reason: CancelReason::ImmediateOrCancel,
            options: user_ref_idx(4),
        }),
        Outbound::AiqCanceled(AiqCanceled {
            timestamp: t,
            user_ref_num: 1,
            decrement_shares: 3,
            reason: CancelReason::SelfMatchPrevention,
            quantity_prevented_from_trading: 3,
            execution_price: Price(9),
            liquidity_flag: LiquidityFlag::ADDED,
            aiq_strategy: b'O',
            options: none,
        }),
        Outbound::OrderExecuted(OrderExecuted {
            timestamp: t,
            user_ref_num: 1,
            quantity: 100,
            price: Price(5),
            liquidity_flag: LiquidityFlag::REMOVED,
            match_number: 9,
            options: none,
        }),
        Outbound::BrokenTrade(BrokenTrade {
            timestamp: t,
            user_ref_num: 1,
            match_number: 9,
            reason: BrokenTradeReason::Erroneous,
            cl_ord_id: Alpha::SPACES,
            options: none,
        }),
        Outbound::OrderRejected(OrderRejected {
            timestamp: t,
            user_ref_num: 3,
            reason: RejectReason::InvalidSymbol,
            cl_ord_id: Alpha::padded("X"),
            options: none,
        }),
        Outbound::CancelPending(CancelPending {
            timestamp: t,
            user_ref_num: 1,
            options: none,
        }),
        Outbound::CancelReject(CancelReject {
            timestamp: t,
            user_ref_num: 1,
            options: user_ref_idx(1),
        }),
        Outbound::PriorityUpdate(PriorityUpdate {
            timestamp: t,
            user_ref_num: 1,
            price: Price(3),
            display: Display::Conformant,
            order_reference_number: 80,
            options: none,
        }),
        Outbound::OrderModified(OrderModified {
            timestamp: t,
            user_ref_num: 1,
            side: Side::SellShort,
            quantity: 4,
            options: none,
        }),
        Outbound::OrderRestated(OrderRestated {
            timestamp: t,
            user_ref_num: 1,
            reason: RestateReason::Refresh,
            options: Options {
                display_quantity: Some(100),
                display_price: Some(Price(7)),
                secondary_ord_ref_num: Some(81),
                ..none
            },
        }),
        Outbound::MassCancelResponse(MassCancelResponse {
            timestamp: t,
            user_ref_num: 4,
            firm,
            symbol: symbol(),
            options: none,
        }),
        Outbound::DisableOrderEntryResponse(DisableOrderEntryResponse {
            timestamp: t,
            user_ref_num: 5,
            firm,
            options: none,
        }),
        Outbound::EnableOrderEntryResponse(EnableOrderEntryResponse {
            timestamp: t,
            user_ref_num: 6,
            firm,
            options: none,
        }),
        Outbound::AccountQueryResponse(AccountQueryResponse {
            timestamp: t,
            next_user_ref_num: 7,
            options: none,
        }),
    ]
}

#[test]
fn every_inbound_message_round_trips() {
    for message in every_inbound() {
        let mut buf = [0u8; MAX_INBOUND_LEN];
        let len = message.encode(&mut buf).unwrap();
        assert_eq!(len, message.encoded_len());
        assert_eq!(Inbound::decode(&buf[..len]), Ok(message), "{message:?}");
    }
}

#[test]
fn every_outbound_message_round_trips() {
    for message in every_outbound() {
        let mut buf = [0u8; MAX_OUTBOUND_LEN];
        let len = message.encode(&mut buf).unwrap();
        assert_eq!(len, message.encoded_len());
        assert_eq!(Outbound::decode(&buf[..len]), Ok(message), "{message:?}");
    }
}

#[test]
fn enter_order_has_the_spec_layout() {
    let mut buf = [0u8; 64];
    let len = enter_order().encode(&mut buf).unwrap();
    let mut golden = vec![b'O', 0, 0, 0, 1, b'B', 0, 0, 0x01, 0xF4];
    golden.extend_from_slice(b"AAPL    ");
    golden.extend_from_slice(&1_234_500u64.to_be_bytes());
    golden.extend_from_slice(b"0YAN");
    golden.push(b'N');
    golden.extend_from_slice(b"ORDER-1       ");
    golden.extend_from_slice(&[0, 9]); // Appendage Length at offset 45
    golden.extend_from_slice(&[5, 3, 0, 0, 0, 100]); // MinQty = 100
    golden.extend_from_slice(&[2, 28, 2]); // UserRefIdx = 2
    assert_eq!(&buf[..len], &golden[..]);
    assert_eq!(golden.len(), 56);
}

#[test]
fn order_accepted_has_the_spec_layout() {
    let mut buf = [0u8; 80];
    let len = accepted().encode(&mut buf).unwrap();
    assert_eq!(len, 64);
    assert_eq!(buf[0], b'A');
    assert_eq!(buf[1..9], 34_200_000_000_000u64.to_be_bytes());
    assert_eq!(buf[9..13], 1u32.to_be_bytes());
    assert_eq!(buf[13], b'B');
    assert_eq!(buf[14..18], 500u32.to_be_bytes());
    assert_eq!(&buf[18..26], b"AAPL    ");
    assert_eq!(buf[26..34], 1_234_500u64.to_be_bytes());
    assert_eq!(&buf[34..36], b"0Y");
    assert_eq!(buf[36..44], 77u64.to_be_bytes());
    assert_eq!(&buf[44..48], b"ANNL");
    assert_eq!(&buf[48..62], b"ORDER-1       ");
    assert_eq!(buf[62..64], [0, 0]);
}

#[test]
fn rejected_without_options_omits_the_optional_appendage() {
    let rejected = OrderRejected {
        timestamp: 1,
        user_ref_num: 3,
        reason: RejectReason::InvalidPrice,
        cl_ord_id: Alpha::SPACES,
        options: Options::NONE,
    };
    let mut buf = [0u8; 64];
    assert_eq!(rejected.encode(&mut buf), Ok(29));
    assert_eq!(buf[13..15], [0x00, 0x1D]);
    let with_idx = OrderRejected {
        options: user_ref_idx(5),
        ..rejected
    };
    assert_eq!(with_idx.encode(&mut buf), Ok(34));
    assert_eq!(buf[29..34], [0, 3, 2, 28, 5]);
}

#[test]
fn optional_appendage_messages_decode_with_or_without_an_empty_length_field() {
    let without = [b'X', 0, 0, 0, 1, 0, 0, 0, 0];
    let with_empty = [b'X', 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    let cancel = Inbound::CancelOrder(CancelOrder {
        user_ref_num: 1,
        quantity: 0,
        options: Options::NONE,
    });
    assert_eq!(Inbound::decode(&without), Ok(cancel));
    assert_eq!(Inbound::decode(&with_empty), Ok(cancel));
}

#[test]
fn wrong_length_and_unknown_type_are_typed_errors() {
    let mut buf = [0u8; 64];
    let len = enter_order().encode(&mut buf).unwrap();
    let wrong = |len| {
        Err(OuchError::WrongLength {
            message_type: b'O',
            len,
        })
    };
    assert_eq!(Inbound::decode(&buf[..len - 1]), wrong(len - 1));
    assert_eq!(Inbound::decode(&buf[..len + 1]), wrong(len + 1));
    assert_eq!(Inbound::decode(&buf[..46]), wrong(46));
    assert_eq!(Inbound::decode(b"Z"), Err(OuchError::UnknownType(b'Z')));
    assert_eq!(Inbound::decode(b""), Err(OuchError::Empty));
    assert_eq!(Outbound::decode(b"O"), Err(OuchError::UnknownType(b'O')));
    assert_eq!(
        EnterOrder::decode(b"X"),
        Err(OuchError::UnexpectedType {
            expected: b'O',
            found: b'X'
        })
    );
}

fn enter_with_appendage(appendage: &[u8]) -> Vec<u8> {
    let mut buf = [0u8; 64];
    let len = EnterOrder::new(1, Side::Buy, 1, symbol(), Price(1))
        .encode(&mut buf)
        .unwrap();
    let mut msg = buf[..len - 2].to_vec();
    msg.extend_from_slice(&(appendage.len() as u16).to_be_bytes());
    msg.extend_from_slice(appendage);
    msg
}

fn appendage_error(appendage: &[u8]) -> AppendageError {
    match Inbound::decode(&enter_with_appendage(appendage)) {
        Err(OuchError::Appendage(e)) => e,
        other => panic!("expected an appendage error, got {other:?}"),
    }
}

#[test]
fn malformed_appendages_are_typed_errors_with_their_reject_reasons() {
    use AppendageError::*;
    let cases: [(&[u8], AppendageError, RejectReason); 8] = [
        (&[0], ZeroLengthElement, RejectReason::Other),
        (
            &[5, 3, 0, 0],
            TruncatedElement {
                element_len: 5,
                remaining: 3,
            },
            RejectReason::Other,
        ),
        (&[2, 8, 1], UnknownTag(8), RejectReason::Other),
        (&[2, 99, 1], UnknownTag(99), RejectReason::Other),
        (
            &[2, 27, b'B'],
            TagNotAllowed(Tag::Side),
            RejectReason::Other,
        ),
        (
            &[2, 28, 1, 2, 28, 1],
            DuplicateTag(Tag::UserRefIdx),
            RejectReason::Other,
        ),
        (
            &[3, 5, 0, 1],
            WrongValueLength {
                tag: Tag::MaxFloor,
                len: 2,
            },
            RejectReason::InvalidMaxFloor,
        ),
        (
            &[2, 3, 1],
            WrongValueLength {
                tag: Tag::MinQty,
                len: 1,
            },
            RejectReason::InvalidMinQuantity,
        ),
    ];
    for (appendage, error, reason) in cases {
        assert_eq!(appendage_error(appendage), error, "{appendage:?}");
        assert_eq!(OuchError::Appendage(error).reject_reason(), reason);
    }
    let bad_post_only = appendage_error(&[2, 12, b'X']);
    assert_eq!(
        bad_post_only,
        InvalidValue(tickgate::proto::wire::InvalidValue {
            kind: FieldKind::PostOnly,
            value: u16::from(b'X')
        })
    );
}

#[test]
fn every_honoured_appendage_tag_decodes_into_its_typed_field() {
    let appendage = [
        5, 2, b'F', b'R', b'M', b'1', // Firm
        5, 3, 0, 0, 0, 100, // MinQty
        5, 5, 0, 0, 0, 10, // MaxFloor
        2, 12, b'P', // PostOnly
        5, 15, 0, 0, 0x0E, 0x10, // ExpireTime 3600 s
        2, 28, 7, // UserRefIdx
    ];
    let Ok(Inbound::EnterOrder(order)) = Inbound::decode(&enter_with_appendage(&appendage)) else {
        panic!("did not decode");
    };
    let o = order.options;
    assert_eq!(o.firm, Some(Alpha::padded("FRM1")));
    assert_eq!(
        (o.min_qty, o.max_floor, o.expire_time),
        (Some(100), Some(10), Some(3600))
    );
    assert_eq!(o.post_only, Some(PostOnly::PostOnly));
    assert_eq!(o.user_ref_idx, Some(7));
    assert_eq!(Inbound::EnterOrder(order).user_ref_idx(), 7);
}

#[test]
fn invalid_enumerated_fields_map_to_their_reject_reasons() {
    let mut buf = [0u8; 64];
    let len = EnterOrder::new(9, Side::Buy, 1, symbol(), Price(1))
        .encode(&mut buf)
        .unwrap();
    let with = |offset: usize, byte: u8| {
        let mut msg = buf[..len].to_vec();
        msg[offset] = byte;
        Inbound::decode(&msg).unwrap_err()
    };
    let side = with(5, b'Q');
    assert_eq!(
        side,
        OuchError::InvalidValue(InvalidValue {
            kind: FieldKind::Side,
            value: u16::from(b'Q')
        })
    );
    assert_eq!(side.reject_reason(), RejectReason::InvalidSide);
    assert_eq!(with(27, b'?').reject_reason(), RejectReason::InvalidDisplay);
    assert_eq!(
        with(30, b'?').reject_reason(),
        RejectReason::InvalidCrossOrder
    );
    assert_eq!(with(26, b'?').reject_reason(), RejectReason::Other);
    assert_eq!(peek_user_ref_num(&buf[..len]), Some(9));
    assert_eq!(peek_cl_ord_id(&buf[..40]), None);
}

#[test]
fn reject_reasons_map_one_to_one_to_the_spec_codes() {
    assert_eq!(RejectReason::ALL.len(), 0x33);
    for (i, reason) in RejectReason::ALL.iter().enumerate() {
        assert_eq!(reason.code(), i as u16 + 1);
        assert_eq!(RejectReason::from_code(reason.code()), Some(*reason));
    }
    assert_eq!(RejectReason::from_code(0), None);
    assert_eq!(RejectReason::from_code(0x34), None);
}

#[test]
fn user_ref_nums_must_increase_strictly_per_channel() {
    let mut seen = UserRefNums::new();
    assert!(!seen.is_fresh(0, 0), "UserRefNum starts at 1");
    assert!(seen.check_and_consume(0, 5));
    assert!(!seen.check_and_consume(0, 5), "equal is a retransmission");
    assert!(!seen.check_and_consume(0, 4), "lower is a retransmission");
    assert!(seen.check_and_consume(1, 2), "channels are independent");
    assert_eq!((seen.next(0), seen.next(1), seen.next(2)), (6, 3, 1));
}

#[test]
fn inbound_names_the_user_ref_num_it_consumes() {
    let consumed: Vec<_> = every_inbound()
        .iter()
        .map(Inbound::new_user_ref_num)
        .collect();
    assert_eq!(
        consumed,
        [
            Some(1),
            Some(2),
            Some(3),
            None,
            None,
            None,
            Some(4),
            Some(5),
            Some(6),
            None,
            None
        ]
    );
}

#[test]
fn longest_messages_fit_the_declared_maxima() {
    let everything = Options {
        firm: Some(Alpha::padded("F")),
        min_qty: Some(1),
        customer_type: Some(b'R'),
        max_floor: Some(1),
        price_type: Some(PriceType::Limit),
        peg_offset: Some(-1),
        discretion_price: Some(Price(1)),
        discretion_price_type: Some(PriceType::Limit),
        discretion_peg_offset: Some(1),
        post_only: Some(PostOnly::No),
        random_reserves: Some(1),
        expire_time: Some(1),
        trade_now: Some(b'N'),
        handle_inst: Some(b' '),
        group_id: Some(1),
        shares_located: Some(b'N'),
        locate_broker: Some(Alpha::padded("B")),
        user_ref_idx: Some(1),
        ..Options::NONE
    };
    let order = EnterOrder {
        options: everything,
        ..enter_order()
    };
    assert_eq!(order.encoded_len(), MAX_INBOUND_LEN);
    let mut buf = [0u8; MAX_INBOUND_LEN];
    let len = order.encode(&mut buf).unwrap();
    assert_eq!(EnterOrder::decode(&buf[..len]), Ok(order));
}
