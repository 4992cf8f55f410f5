//! `[marketdata]`: defaults, parsing, validation, and the publisher settings it gives.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use tickgate::config::{Config, DEFAULT_TOML};
use tickgate::md::MarketDataSection;
use tickgate::proto::moldudp::Session;

#[test]
fn the_embedded_default_matches_the_section_defaults() {
    let c = Config::embedded();
    assert_eq!(c.marketdata, MarketDataSection::default());
    assert_eq!(c.marketdata.validate(), Ok(()));
}

#[test]
fn a_file_without_the_section_gets_the_defaults() {
    let start = DEFAULT_TOML.find("[marketdata]").unwrap();
    let c = Config::parse(&DEFAULT_TOML[..start]).unwrap();
    assert_eq!(c.marketdata, MarketDataSection::default());
}

#[test]
fn the_section_gives_the_publisher_its_settings() {
    let text = DEFAULT_TOML
        .replace("port = 15001", "port = 16001")
        .replace("mtu = 1428", "mtu = 9000")
        .replace("session = \"\"", "session = \"FEED1\"")
        .replace("retransmit_port = 15002", "retransmit_port = 0");
    let md = Config::parse(&text).unwrap().marketdata;
    let p = md.publisher_config(Session::padded("DAY")).unwrap();
    assert_eq!(p.session, Session::padded("FEED1"));
    assert_eq!(
        p.target.group,
        SocketAddrV4::new(Ipv4Addr::new(239, 0, 0, 1), 16001)
    );
    assert_eq!(p.max_packet_bytes, 9000 - 28);
    assert_eq!(p.heartbeat_interval, Duration::from_millis(1000));
    assert_eq!(p.retransmit, None);
    let day = MarketDataSection::default()
        .publisher_config(Session::padded("DAY"))
        .unwrap();
    assert_eq!(day.session, Session::padded("DAY"));
    assert_eq!(
        day.retransmit,
        Some(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 15002))
    );
}

#[test]
fn values_that_cannot_work_are_refused_naming_the_key() {
    let bad = [
        MarketDataSection {
            group: Ipv4Addr::new(10, 0, 0, 1),
            ..Default::default()
        },
        MarketDataSection {
            mtu: 60,
            ..Default::default()
        },
        MarketDataSection {
            heartbeat_ms: 0,
            ..Default::default()
        },
        MarketDataSection {
            session: "ELEVENCHARS".into(),
            ..Default::default()
        },
        MarketDataSection {
            retransmit_messages: 0,
            ..Default::default()
        },
    ];
    for (md, key) in bad.iter().zip([
        "group",
        "mtu",
        "heartbeat_ms",
        "session",
        "retransmit_messages",
    ]) {
        let err = md.validate().unwrap_err();
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[test]
fn an_unknown_key_is_an_error() {
    let text = DEFAULT_TOML.replace("heartbeat_ms = 1000", "heartbeat_msec = 1000");
    assert!(Config::parse(&text).is_err());
}
