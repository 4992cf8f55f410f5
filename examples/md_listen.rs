//! Joins the market-data multicast group and prints every ITCH 5.0 message decoded from
//! the MoldUDP64 packets, one line each, with its sequence number. A gap is reported
//! and, if a retransmission server is known, re-requested and filled in order.
//!
//! ```text
//! cargo run --release --example md_listen                       # [marketdata] defaults
//! cargo run --release --example md_listen -- --config tickgate.toml
//! cargo run --release --example md_listen -- --group 239.0.0.1:15001 --interface 127.0.0.1 \
//!     --retransmit 127.0.0.1:15002 --count 100
//! ```
//!
//! Stops at end of session, after `--count` messages, or on Ctrl-C.

use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::time::Duration;

use tickgate::config::Config;
use tickgate::md::socket;
use tickgate::proto::itch::Message;
use tickgate::proto::moldudp::{DownstreamPacket, RequestPacket, Session};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

struct Args {
    group: SocketAddrV4,
    interface: Ipv4Addr,
    retransmit: Option<SocketAddrV4>,
    count: Option<u64>,
}

fn parse_args() -> Result<Args> {
    let mut argv = std::env::args().skip(1);
    let mut config = None;
    let mut flags = Vec::new();
    while let Some(flag) = argv.next() {
        let value = argv.next().ok_or(format!("{flag} needs a value"))?;
        if flag == "--config" {
            config = Some(value);
        } else {
            flags.push((flag, value));
        }
    }
    let md = Config::load(config.as_deref().map(std::path::Path::new))?.marketdata;
    let mut args = Args {
        group: SocketAddrV4::new(md.group, md.port),
        interface: md.interface,
        retransmit: (md.retransmit_port != 0)
            .then(|| SocketAddrV4::new(md.interface, md.retransmit_port)),
        count: None,
    };
    for (flag, value) in flags {
        match flag.as_str() {
            "--group" => args.group = value.parse()?,
            "--interface" => args.interface = value.parse()?,
            "--retransmit" => args.retransmit = Some(value.parse()?),
            "--count" => args.count = Some(value.parse()?),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    Ok(args)
}

/// Prints the messages of one packet that are new; returns the next expected number.
fn print_messages(p: &DownstreamPacket<'_>, mut seq: u64, expected: u64) -> u64 {
    for m in p.messages() {
        if seq >= expected {
            match Message::decode(m) {
                Ok(message) => println!("{seq:>10} {message:?}"),
                Err(e) => println!("{seq:>10} {e} ({} bytes)", m.len()),
            }
        }
        seq += 1;
    }
    seq.max(expected)
}

/// Asks the retransmission server for `from..to`, printing what comes back, until
/// it is all there or an answer does not come; returns the next number still missing.
fn recover(
    requests: &UdpSocket,
    server: SocketAddrV4,
    session: Session,
    mut from: u64,
    to: u64,
) -> Result<u64> {
    let mut buf = [0u8; 65536];
    while from < to {
        let request = RequestPacket {
            session,
            sequence_number: from,
            requested_message_count: (to - from).min(u64::from(u16::MAX - 1)) as u16,
        };
        let mut req = [0u8; RequestPacket::LEN];
        request.encode(&mut req)?;
        requests.send_to(&req, server)?;
        let Ok(n) = requests.recv(&mut buf) else {
            break;
        };
        let Ok(p) = DownstreamPacket::parse(&buf[..n]) else {
            break;
        };
        if p.header.message_count == 0 || p.header.sequence_number > from {
            break;
        }
        from = print_messages(&p, p.header.sequence_number, from).min(to);
    }
    Ok(from)
}

fn main() -> Result<()> {
    let args = parse_args()?;
    let rx = socket::receiver(args.group, args.interface)?;
    let requests = UdpSocket::bind((args.interface, 0))?;
    requests.set_read_timeout(Some(Duration::from_millis(200)))?;
    eprintln!("listening on {} via {}", args.group, args.interface);
    let mut buf = [0u8; 65536];
    let (mut expected, mut printed) = (0u64, 0u64);
    loop {
        let n = rx.recv(&mut buf)?;
        let Ok(p) = DownstreamPacket::parse(&buf[..n]) else {
            eprintln!("bad packet of {n} bytes");
            continue;
        };
        let first = p.header.sequence_number;
        if expected == 0 {
            expected = first;
        }
        let before = expected;
        if first > expected {
            eprintln!("gap: {expected}..{first}");
            if let Some(server) = args.retransmit {
                expected = recover(&requests, server, p.header.session, expected, first)?;
            }
            if first > expected {
                eprintln!("lost: {expected}..{first}");
            }
        }
        if p.is_end_of_session() {
            eprintln!("end of session at {first}");
            return Ok(());
        }
        expected = print_messages(&p, first, expected);
        printed += expected - before;
        if args.count.is_some_and(|c| printed >= c) {
            return Ok(());
        }
    }
}
