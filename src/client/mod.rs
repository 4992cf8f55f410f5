//! A blocking SoupBinTCP + OUCH 5.0 client over `std::net`, for tests, benches and
//! examples.
//!
//! [`Client::connect`] logs in (optionally asking for a replay from a sequence
//! number); [`Client::send`] and the typed helpers ([`Client::enter_order`],
//! [`Client::cancel`], …) send OUCH inbound messages in Unsequenced Data packets,
//! numbering new transactions with strictly increasing UserRefNums;
//! [`Client::recv`] returns the next sequenced OUCH message with its sequence
//! number. Heartbeats are sent while the client waits, and a silent server is
//! detected. [`Client::set_spin`] switches to a nonblocking socket polled in a
//! loop, for latency measurements.
//!
//! ```no_run
//! use tickgate::client::{Client, Event, LoginParams};
//! use tickgate::proto::ouch::{Price, Side, Symbol};
//! let mut client = Client::connect("127.0.0.1:15000", &LoginParams::new("DEMO1", "secret")).unwrap();
//! let user_ref_num = client.enter_order(Side::Buy, 100, Symbol::padded("AAPL"), Price(1_500_000)).unwrap();
//! if let Event::Sequenced { sequence_number, message } = client.recv().unwrap() {
//!     println!("{sequence_number}: {message:?} (order {user_ref_num})");
//! }
//! ```

mod connection;
mod error;

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

pub use error::ClientError;

use crate::proto::ouch::{
    self, AccountQuery, CancelOrder, EnterOrder, Inbound, Options, Outbound, Price, ReplaceOrder,
    Side, Symbol,
};
use crate::proto::soupbin::{LoginRequest, Packet};
use crate::proto::wire::Alpha;
use connection::Connection;

/// What to log in with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginParams {
    /// Username (up to 6 bytes).
    pub username: Alpha<6>,
    /// Password (up to 10 bytes).
    pub password: Alpha<10>,
    /// Session; blank = the current one.
    pub requested_session: Alpha<10>,
    /// 0 = start at the most recent message; N = replay from message N.
    pub requested_sequence_number: u64,
    /// Heartbeat timeout to ask the server for (ms); also how long this client waits
    /// for a silent server. 0 = 15 000.
    pub heartbeat_timeout_ms: u32,
}

impl LoginParams {
    /// Credentials for the current session, from the start (sequence 1), default timeout.
    ///
    /// # Panics
    /// If the username is longer than 6 bytes or the password longer than 10.
    pub fn new(username: &str, password: &str) -> Self {
        Self {
            username: Alpha::padded(username),
            password: Alpha::padded(password),
            requested_session: Alpha::SPACES,
            requested_sequence_number: 1,
            heartbeat_timeout_ms: 0,
        }
    }

    /// The same credentials asking for a replay from `sequence_number`.
    pub fn from_sequence(self, sequence_number: u64) -> Self {
        Self {
            requested_sequence_number: sequence_number,
            ..self
        }
    }

    fn request(&self) -> LoginRequest {
        LoginRequest {
            username: self.username,
            password: self.password,
            requested_session: self.requested_session,
            requested_sequence_number: self.requested_sequence_number,
            requested_heartbeat_timeout_ms: self.heartbeat_timeout_ms,
        }
    }

    fn peer_timeout(&self) -> Duration {
        match self.heartbeat_timeout_ms {
            0 => Duration::from_secs(15),
            ms => Duration::from_millis(u64::from(ms)),
        }
    }
}

/// Something the server sent after login.
// NB: `Outbound` is ~200 bytes; events are returned by value once per packet and
// boxing would allocate per message, so the size difference is accepted.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A Sequenced Data packet: an OUCH outbound message and its sequence number.
    Sequenced {
        /// Its number in the session's stream (1, 2, 3, …).
        sequence_number: u64,
        /// The decoded message.
        message: Outbound,
    },
    /// A Server Heartbeat (only from [`Client::recv_event`]).
    Heartbeat,
    /// A Debug packet (only from [`Client::recv_event`]; the text is dropped).
    Debug,
    /// End of Session: the stream is finished.
    EndOfSession,
}

/// A logged-in SoupBinTCP/OUCH session.
#[derive(Debug)]
pub struct Client {
    conn: Connection,
    session: Alpha<10>,
    next_sequence_number: u64,
    next_user_ref_num: u32,
    send_buf: [u8; crate::proto::soupbin::MAX_PACKET_LEN],
}

impl Client {
    /// Connects (TCP_NODELAY on), logs in and waits for Login Accepted.
    ///
    /// # Errors
    /// [`ClientError::LoginRejected`] with the server's reason, I/O and protocol errors.
    pub fn connect(addr: impl ToSocketAddrs, login: &LoginParams) -> Result<Client, ClientError> {
        let stream = TcpStream::connect(addr)?;
        Self::login(stream, login)
    }

    /// Logs in over an already connected stream.
    pub fn login(stream: TcpStream, login: &LoginParams) -> Result<Client, ClientError> {
        stream.set_nodelay(true)?;
        let mut conn = Connection::new(stream, login.peer_timeout())?;
        conn.send_packet(&Packet::LoginRequest(login.request()))?;
        let accepted = conn.wait_login()?;
        Ok(Client {
            conn,
            session: accepted.session,
            next_sequence_number: accepted.sequence_number,
            next_user_ref_num: 1,
            send_buf: [0; crate::proto::soupbin::MAX_PACKET_LEN],
        })
    }

    /// The session logged into.
    pub fn session(&self) -> Alpha<10> {
        self.session
    }

    /// The sequence number the next Sequenced Data packet will carry.
    pub fn next_sequence_number(&self) -> u64 {
        self.next_sequence_number
    }

    /// The UserRefNum the next typed helper will use (set it after an Account Query
    /// or a reconnect).
    pub fn next_user_ref_num(&self) -> u32 {
        self.next_user_ref_num
    }

    /// Sets the UserRefNum the next typed helper will use.
    pub fn set_next_user_ref_num(&mut self, user_ref_num: u32) {
        self.next_user_ref_num = user_ref_num;
    }

    /// Spin mode: a nonblocking socket polled in a loop by `recv` (burns a CPU; for
    /// latency benches). Off: blocking reads with a short timeout.
    pub fn set_spin(&mut self, spin: bool) -> Result<(), ClientError> {
        self.conn.set_spin(spin)
    }

    /// How long without sending before a Client Heartbeat goes out (default 1 s).
    pub fn set_heartbeat_interval(&mut self, interval: Duration) {
        self.conn.heartbeat_interval = interval;
    }

    /// The underlying socket (e.g. to pin or tune it).
    pub fn stream(&self) -> &TcpStream {
        self.conn.stream()
    }

    /// Sends one OUCH inbound message in an Unsequenced Data packet.
    pub fn send(&mut self, message: &Inbound) -> Result<(), ClientError> {
        let len = crate::proto::soupbin::encode_unsequenced_with(&mut self.send_buf, |buf| {
            message.encode(buf)
        })?;
        self.conn.send_bytes(&self.send_buf[..len])
    }

    /// Sends raw bytes as they are (for tests of malformed input).
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.conn.send_bytes(bytes)
    }

    /// Sends a SoupBinTCP packet.
    pub fn send_packet(&mut self, packet: &Packet<'_>) -> Result<(), ClientError> {
        self.conn.send_packet(packet)
    }

    fn take_user_ref_num(&mut self) -> u32 {
        let user_ref_num = self.next_user_ref_num;
        self.next_user_ref_num = user_ref_num.wrapping_add(1);
        user_ref_num
    }

    /// Enters a day limit order ([`EnterOrder::new`]); returns its UserRefNum.
    pub fn enter_order(
        &mut self,
        side: Side,
        quantity: u32,
        symbol: Symbol,
        price: Price,
    ) -> Result<u32, ClientError> {
        self.enter_order_with(|user_ref_num| {
            EnterOrder::new(user_ref_num, side, quantity, symbol, price)
        })
    }

    /// Enters an order built by `build` from the next UserRefNum; returns that number.
    pub fn enter_order_with(
        &mut self,
        build: impl FnOnce(u32) -> EnterOrder,
    ) -> Result<u32, ClientError> {
        let user_ref_num = self.take_user_ref_num();
        self.send(&Inbound::EnterOrder(build(user_ref_num)))?;
        Ok(user_ref_num)
    }

    /// Replaces an order; returns the replacement's UserRefNum.
    pub fn replace(
        &mut self,
        orig_user_ref_num: u32,
        quantity: u32,
        price: Price,
    ) -> Result<u32, ClientError> {
        let user_ref_num = self.take_user_ref_num();
        let replace = ReplaceOrder::new(orig_user_ref_num, user_ref_num, quantity, price);
        self.send(&Inbound::ReplaceOrder(replace))?;
        Ok(user_ref_num)
    }

    /// Cancels an order down to `quantity` shares (0 = cancel all).
    pub fn cancel(&mut self, user_ref_num: u32, quantity: u32) -> Result<(), ClientError> {
        self.send(&Inbound::CancelOrder(CancelOrder {
            user_ref_num,
            quantity,
            options: Options::NONE,
        }))
    }

    /// Cancels every order of `firm`, on `symbol` (spaces = all symbols).
    pub fn mass_cancel(&mut self, firm: ouch::Firm, symbol: Symbol) -> Result<u32, ClientError> {
        let user_ref_num = self.take_user_ref_num();
        let request = ouch::MassCancel {
            user_ref_num,
            firm,
            symbol,
            options: Options::NONE,
        };
        self.send(&Inbound::MassCancel(request))?;
        Ok(user_ref_num)
    }

    /// Asks for the next available UserRefNum.
    pub fn account_query(&mut self) -> Result<(), ClientError> {
        self.send(&Inbound::AccountQuery(AccountQuery {
            options: Options::NONE,
        }))
    }

    /// Sends a Client Heartbeat now.
    pub fn heartbeat(&mut self) -> Result<(), ClientError> {
        self.conn.send_packet(&Packet::ClientHeartbeat)
    }

    /// Sends a Logout Request and waits (up to the peer timeout) for the server to
    /// close, discarding whatever arrives meanwhile.
    pub fn logout(mut self) -> Result<(), ClientError> {
        self.conn.send_packet(&Packet::LogoutRequest)?;
        loop {
            match self.recv_event() {
                Ok(Event::EndOfSession) | Err(ClientError::Closed) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The next sequenced message or End of Session, skipping heartbeats and debug
    /// packets; sends heartbeats while waiting.
    ///
    /// # Errors
    /// [`ClientError::HeartbeatTimeout`] if the server is silent past the timeout,
    /// [`ClientError::Closed`] if it closed the connection.
    pub fn recv(&mut self) -> Result<Event, ClientError> {
        loop {
            match self.recv_event()? {
                Event::Heartbeat | Event::Debug => {}
                event => return Ok(event),
            }
        }
    }

    /// The next packet from the server, heartbeats and debug packets included.
    pub fn recv_event(&mut self) -> Result<Event, ClientError> {
        loop {
            if let Some(event) = self.try_recv()? {
                return Ok(event);
            }
        }
    }

    /// The next packet if one is already buffered, else after at most one read
    /// attempt (nonblocking in spin mode; up to 20 ms otherwise).
    pub fn try_recv(&mut self) -> Result<Option<Event>, ClientError> {
        if let Some(event) = self.decode_buffered()? {
            return Ok(Some(event));
        }
        self.conn.fill_once()?;
        self.decode_buffered()
    }

    fn decode_buffered(&mut self) -> Result<Option<Event>, ClientError> {
        let decoded = self
            .conn
            .poll_packet(|p| (matches!(p, Packet::SequencedData(_)), to_event(p)))?;
        let Some((sequenced, event)) = decoded else {
            return Ok(None);
        };
        let sequence_number = self.next_sequence_number;
        if sequenced {
            self.next_sequence_number += 1;
        }
        match event {
            Ok(Event::Sequenced { message, .. }) => Ok(Some(Event::Sequenced {
                sequence_number,
                message,
            })),
            Ok(event) => Ok(Some(event)),
            Err(ClientError::Ouch { error, .. }) => Err(ClientError::Ouch {
                sequence_number,
                error,
            }),
            Err(e) => Err(e),
        }
    }
}

fn to_event(packet: Packet<'_>) -> Result<Event, ClientError> {
    match packet {
        Packet::SequencedData(bytes) => {
            let message = Outbound::decode(bytes).map_err(|error| ClientError::Ouch {
                sequence_number: 0,
                error,
            })?;
            Ok(Event::Sequenced {
                sequence_number: 0,
                message,
            })
        }
        Packet::ServerHeartbeat => Ok(Event::Heartbeat),
        Packet::Debug(_) => Ok(Event::Debug),
        Packet::EndOfSession => Ok(Event::EndOfSession),
        other => Err(ClientError::UnexpectedPacket(other.packet_type())),
    }
}
