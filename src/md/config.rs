//! `[marketdata]`: where and how the MoldUDP64 publisher sends.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use serde::Deserialize;

use super::publisher::{MIN_PACKET_BYTES, PublisherConfig};
use super::socket::MulticastTarget;
use crate::proto::moldudp::Session;
use crate::proto::wire::Alpha;

/// Bytes of IPv4 + UDP headers: a packet is at most `mtu` minus this.
pub const IP_UDP_HEADER_BYTES: usize = 28;

/// `[marketdata]` of the configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MarketDataSection {
    /// Run the MoldUDP64 publisher.
    pub enabled: bool,
    /// Multicast group (224.0.0.0/4).
    pub group: Ipv4Addr,
    /// UDP port of the group.
    pub port: u16,
    /// Address of the interface to send on (`IP_MULTICAST_IF`); 127.0.0.1 is `lo`.
    pub interface: Ipv4Addr,
    /// IP TTL of the packets.
    pub ttl: u32,
    /// Whether listeners on this host get the packets (`IP_MULTICAST_LOOP`).
    pub loopback: bool,
    /// Link MTU; packets are at most `mtu - 28` bytes.
    pub mtu: usize,
    /// A heartbeat goes out after this much silence, ms.
    pub heartbeat_ms: u64,
    /// MoldUDP64 session name (≤ 10 characters); empty: the trading day's
    /// SoupBinTCP session name.
    pub session: String,
    /// Unicast UDP port of the retransmission server on `interface`; 0: none.
    pub retransmit_port: u16,
    /// Recent messages kept for retransmission.
    pub retransmit_messages: usize,
}

impl Default for MarketDataSection {
    fn default() -> Self {
        Self {
            enabled: true,
            group: Ipv4Addr::new(239, 0, 0, 1),
            port: 15001,
            interface: Ipv4Addr::LOCALHOST,
            ttl: 1,
            loopback: true,
            mtu: 1428,
            heartbeat_ms: 1000,
            session: String::new(),
            retransmit_port: 15002,
            retransmit_messages: 1 << 16,
        }
    }
}

/// A `[marketdata]` value that cannot work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketDataConfigError(pub String);

impl fmt::Display for MarketDataConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[marketdata]: {}", self.0)
    }
}

impl std::error::Error for MarketDataConfigError {}

/// The smallest `mtu`: IP and UDP headers and a packet of one stored message.
pub const MIN_MTU: usize = IP_UDP_HEADER_BYTES + MIN_PACKET_BYTES;

impl MarketDataSection {
    /// Checks the values; each error names the key and the fix.
    pub fn validate(&self) -> Result<(), MarketDataConfigError> {
        let err = |s: String| Err(MarketDataConfigError(s));
        if !self.group.is_multicast() {
            return err(format!(
                "group {} is not a multicast address (224.0.0.0/4)",
                self.group
            ));
        }
        if !(MIN_MTU..=65535).contains(&self.mtu) {
            return err(format!(
                "mtu = {} must be within {MIN_MTU}..=65535",
                self.mtu
            ));
        }
        if self.heartbeat_ms == 0 {
            return err("heartbeat_ms must be at least 1".into());
        }
        if self.session.len() > 10 || !self.session.bytes().all(|b| b.is_ascii_graphic()) {
            return err(format!(
                "session {:?} must be ≤ 10 printable ASCII characters",
                self.session
            ));
        }
        if self.retransmit_messages == 0 {
            return err("retransmit_messages must be at least 1".into());
        }
        Ok(())
    }

    /// The publisher's settings; `day_session` is used when `session` is empty.
    pub fn publisher_config(
        &self,
        day_session: Session,
    ) -> Result<PublisherConfig, MarketDataConfigError> {
        self.validate()?;
        let session = if self.session.is_empty() {
            day_session
        } else {
            Alpha::try_padded(&self.session).map_err(|e| MarketDataConfigError(format!("{e:?}")))?
        };
        Ok(PublisherConfig {
            session,
            target: MulticastTarget {
                group: SocketAddrV4::new(self.group, self.port),
                interface: self.interface,
                ttl: self.ttl,
                loopback: self.loopback,
            },
            max_packet_bytes: self.mtu - IP_UDP_HEADER_BYTES,
            heartbeat_interval: Duration::from_millis(self.heartbeat_ms),
            retransmit: (self.retransmit_port != 0)
                .then(|| SocketAddrV4::new(self.interface, self.retransmit_port)),
            retransmit_messages: self.retransmit_messages,
            ..PublisherConfig::new(session, SocketAddrV4::new(self.group, self.port))
        })
    }
}
