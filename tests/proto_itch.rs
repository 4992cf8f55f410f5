//! ITCH 5.0 messages and file format, and their MoldUDP64 transport.

use tickgate::proto::itch::*;
use tickgate::proto::moldudp::{
    self, DownstreamPacket, MoldError, PacketBuilder, PacketFull, RequestPacket,
};
use tickgate::proto::wire::{Alpha, BufferTooSmall};

fn header(n: u16) -> Header {
    Header {
        stock_locate: n,
        tracking_number: 0,
        timestamp_ns: 34_200_000_000_123,
    }
}

fn stock() -> Stock {
    Alpha::padded("AAPL")
}

fn every_message() -> Vec<Message> {
    let h = header(3);
    vec![
        Message::SystemEvent(SystemEvent {
            header: h,
            event_code: EventCode::StartOfMarketHours,
        }),
        Message::StockDirectory(StockDirectory {
            header: h,
            stock: stock(),
            market_category: b'Q',
            financial_status_indicator: b'N',
            round_lot_size: 100,
            round_lots_only: b'N',
            issue_classification: b'C',
            issue_sub_type: Alpha::padded("Z"),
            authenticity: b'P',
            short_sale_threshold_indicator: b'N',
            ipo_flag: b'N',
            luld_reference_price_tier: b'1',
            etp_flag: b'N',
            etp_leverage_factor: 0,
            inverse_indicator: b'N',
        }),
        Message::StockTradingAction(StockTradingAction {
            header: h,
            stock: stock(),
            trading_state: TradingState::Trading,
            reserved: b' ',
            reason: Alpha::SPACES,
        }),
        Message::AddOrder(add_order()),
        Message::OrderExecuted(OrderExecuted {
            header: h,
            order_reference_number: 1,
            executed_shares: 10,
            match_number: 2,
        }),
        Message::OrderExecutedWithPrice(OrderExecutedWithPrice {
            header: h,
            order_reference_number: 1,
            executed_shares: 10,
            match_number: 3,
            printable: Printable::NonPrintable,
            execution_price: Price4(1_000_100),
        }),
        Message::OrderCancel(OrderCancel {
            header: h,
            order_reference_number: 1,
            cancelled_shares: 5,
        }),
        Message::OrderDelete(OrderDelete {
            header: h,
            order_reference_number: 1,
        }),
        Message::OrderReplace(OrderReplace {
            header: h,
            original_order_reference_number: 1,
            new_order_reference_number: 2,
            shares: 300,
            price: Price4(1_000_200),
        }),
        Message::Trade(Trade {
            header: h,
            order_reference_number: 0,
            buy_sell_indicator: BuySell::Sell,
            shares: 100,
            stock: stock(),
            price: Price4(1_000_000),
            match_number: 4,
        }),
    ]
}

fn add_order() -> AddOrder {
    AddOrder {
        header: header(3),
        order_reference_number: 0x0102_0304_0506_0708,
        buy_sell_indicator: BuySell::Buy,
        shares: 100,
        stock: stock(),
        price: Price4(1_500_000),
    }
}

fn encode(message: &Message) -> Vec<u8> {
    let mut buf = [0u8; Message::MAX_LEN];
    let len = message.encode(&mut buf).unwrap();
    buf[..len].to_vec()
}

#[test]
fn every_message_round_trips_at_its_exact_length() {
    let lengths = [12, 39, 25, 36, 31, 36, 23, 19, 35, 44];
    for (message, expected_len) in every_message().iter().zip(lengths) {
        let bytes = encode(message);
        assert_eq!(bytes.len(), expected_len);
        assert_eq!(Message::len_of(bytes[0]), Some(expected_len));
        assert_eq!(Message::decode(&bytes), Ok(*message));
    }
}

#[test]
fn add_order_has_the_spec_layout_with_a_48_bit_timestamp() {
    let bytes = encode(&Message::AddOrder(add_order()));
    let mut golden = vec![b'A', 0, 3, 0, 0];
    golden.extend_from_slice(&34_200_000_000_123u64.to_be_bytes()[2..]);
    golden.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8, b'B', 0, 0, 0, 100]);
    golden.extend_from_slice(b"AAPL    ");
    golden.extend_from_slice(&1_500_000u32.to_be_bytes());
    assert_eq!(bytes, golden);
}

#[test]
fn wrong_length_unknown_type_and_bad_codes_are_typed_errors() {
    let bytes = encode(&Message::AddOrder(add_order()));
    assert_eq!(
        Message::decode(&bytes[..35]),
        Err(ItchError::WrongLength {
            message_type: b'A',
            len: 35
        })
    );
    assert_eq!(Message::decode(b"Z123"), Err(ItchError::UnknownType(b'Z')));
    assert_eq!(Message::decode(b""), Err(ItchError::Empty));
    let mut bad_side = bytes.clone();
    bad_side[19] = b'X';
    assert!(matches!(
        Message::decode(&bad_side),
        Err(ItchError::InvalidValue(_))
    ));
    let mut out = [0u8; 10];
    assert_eq!(
        add_order().encode(&mut out),
        Err(BufferTooSmall {
            needed_bytes: 36,
            available_bytes: 10
        })
    );
}

#[test]
fn itch_file_writer_and_readers_agree() {
    let mut writer = FileWriter::new(Vec::new());
    for message in every_message() {
        writer.write(&message).unwrap();
    }
    let file = writer.into_inner().unwrap();
    let from_slice: Vec<Message> = file_records(&file)
        .map(|r| Message::decode(r.unwrap()).unwrap())
        .collect();
    assert_eq!(from_slice, every_message());
    let mut reader = FileReader::new(&file[..]);
    let mut from_reader = Vec::new();
    while let Some(bytes) = reader.next_message().unwrap() {
        from_reader.push(Message::decode(bytes).unwrap());
    }
    assert_eq!(from_reader, every_message());
}

#[test]
fn truncated_itch_file_ends_with_one_error() {
    let file = [0, 3, b'a', b'b', b'c', 0, 9, b'x'];
    let records: Vec<_> = file_records(&file).collect();
    assert_eq!(
        records,
        [Ok(&b"abc"[..]), Err(TruncatedRecord { offset: 5 })]
    );
    let mut reader = FileReader::new(&file[..]);
    assert_eq!(reader.next_message().unwrap(), Some(&b"abc"[..]));
    assert!(reader.next_message().is_err());
}

fn session() -> moldudp::Session {
    Alpha::padded("TICKGATE01")
}

#[test]
fn moldudp_packet_carries_itch_messages_in_sequence() {
    let mut buf = [0u8; 2048];
    let mut packet = PacketBuilder::new(&mut buf, session(), 1000).unwrap();
    for message in every_message() {
        let len = Message::len_of(encode(&message)[0]).unwrap();
        packet
            .push_with(len, |out| assert_eq!(message.encode(out), Ok(len)))
            .unwrap();
    }
    assert_eq!(packet.next_sequence_number(), 1010);
    let len = packet.finish();
    assert_eq!(&buf[..10], b"TICKGATE01");
    assert_eq!(buf[10..18], 1000u64.to_be_bytes());
    assert_eq!(buf[18..20], 10u16.to_be_bytes());
    let parsed = DownstreamPacket::parse(&buf[..len]).unwrap();
    let messages: Vec<Message> = parsed
        .messages()
        .map(|m| Message::decode(m).unwrap())
        .collect();
    assert_eq!(messages, every_message());
}

#[test]
fn moldudp_packet_stops_at_the_mtu_bound() {
    let mut buf = [0u8; 4096];
    let mut packet = PacketBuilder::new(&mut buf, session(), 1).unwrap();
    let message = [7u8; 36];
    let mut pushed = 0;
    while packet.push(&message).is_ok() {
        pushed += 1;
    }
    assert_eq!(
        pushed,
        (moldudp::MAX_PACKET_BYTES - moldudp::HEADER_LEN) / 38
    );
    assert_eq!(packet.push(&message), Err(PacketFull));
    let len = packet.finish();
    assert!(len <= moldudp::MAX_PACKET_BYTES);
    assert_eq!(
        DownstreamPacket::parse(&buf[..len])
            .unwrap()
            .messages()
            .count(),
        pushed
    );
}

#[test]
fn moldudp_heartbeat_and_end_of_session_have_no_blocks() {
    let mut buf = [0u8; 20];
    moldudp::encode_heartbeat(&mut buf, session(), 55).unwrap();
    let heartbeat = DownstreamPacket::parse(&buf).unwrap();
    assert!(heartbeat.is_heartbeat() && !heartbeat.is_end_of_session());
    assert_eq!(heartbeat.header.sequence_number, 55);
    moldudp::encode_end_of_session(&mut buf, session(), 56).unwrap();
    let end = DownstreamPacket::parse(&buf).unwrap();
    assert!(end.is_end_of_session());
    assert_eq!(end.messages().count(), 0);
}

#[test]
fn moldudp_malformed_packets_are_typed_errors() {
    assert_eq!(
        DownstreamPacket::parse(&[0; 19]),
        Err(MoldError::TooShort { len: 19 })
    );
    let mut buf = [0u8; 64];
    let mut packet = PacketBuilder::new(&mut buf, session(), 1).unwrap();
    packet.push(b"abcd").unwrap();
    let len = packet.finish();
    assert_eq!(
        DownstreamPacket::parse(&buf[..len - 1]),
        Err(MoldError::TruncatedBlock { index: 0 })
    );
    assert_eq!(
        DownstreamPacket::parse(&buf[..len + 2]),
        Err(MoldError::TrailingBytes { len: 2 })
    );
}

#[test]
fn moldudp_request_packet_round_trips() {
    let request = RequestPacket {
        session: session(),
        sequence_number: 77,
        requested_message_count: 12,
    };
    let mut buf = [0u8; 20];
    assert_eq!(request.encode(&mut buf), Ok(20));
    assert_eq!(buf[18..20], [0, 12]);
    assert_eq!(RequestPacket::decode(&buf), Some(request));
    assert_eq!(RequestPacket::decode(&buf[..19]), None);
}
