//! The algo's side: claim a slot, send OUCH, read responses and market data, stay
//! alive, detach.
//!
//! ```no_run
//! use std::time::Duration;
//! use tickgate::ipc::algo::AlgoSession;
//!
//! let mut s = AlgoSession::connect("/dev/shm/tickgate".as_ref(), "DEMO1", "secret", 1,
//!                                  Duration::from_secs(1)).unwrap();
//! let _ = s.poll_market_data(64, |md_seq, itch| println!("md {md_seq}: {}", itch[0] as char));
//! // s.enter_order(&EnterOrder { .. }) encodes straight into the order ring's slot.
//! s.poll_responses(64, |seq, ouch| println!("#{seq}: {}", ouch[0] as char));
//! ```
//!
//! Every order carries the market-data sequence number this session last read
//! ([`super::wire::OrderHeader`]); responses carry their number in
//! the account's stream, so an algo that restarts reconnects with
//! [`AlgoSession::next_expected_seq`] and misses nothing.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::directory::{
    ClaimReject, IpcError, Mapping, PASSWORD_BYTES, SlotDesc, SlotState, USERNAME_BYTES, md_path,
    pack, process_alive, ring_path,
};
use super::wire::{ORDER_HEADER_BYTES, OrderHeader, decode_response};
use crate::md::ItchReader;
use crate::proto::ouch::{CancelOrder, EnterOrder, Inbound, MassCancel, ModifyOrder, ReplaceOrder};
use crate::ring::broadcast::ReadError;
use crate::ring::spsc::{Consumer, Producer, PushError};

/// Why [`AlgoSession::send`] wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The order ring is full: the server has not caught up (back-pressure; retry).
    Full,
    /// The message is longer than a ring slot holds (longer than any valid OUCH
    /// message: a bug in the caller).
    TooLong {
        /// The message's length.
        len: usize,
        /// The longest message a slot holds.
        max: usize,
    },
}

/// The market-data reader fell behind by a whole ring: `lost` messages were skipped
/// and it now reads from the newest one (rebuild books from a snapshot, or accept
/// the gap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lapped {
    /// Messages skipped.
    pub lost: u64,
}

/// Why an algo could not connect.
#[derive(Debug)]
pub enum ConnectError {
    /// The directory could not be mapped or is not valid.
    Ipc(IpcError),
    /// Every slot is taken.
    NoFreeSlot,
    /// The server refused the claim.
    Refused(ClaimReject),
    /// The server did not answer within the timeout (is it running?).
    Timeout,
    /// A credential is longer than its field.
    CredentialTooLong,
    /// The server's market-data ring could not be mapped.
    MarketData(crate::ring::shm::ShmError),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ipc(e) => e.fmt(f),
            Self::NoFreeSlot => write!(f, "every session slot is taken; raise the slot count"),
            Self::Refused(r) => write!(f, "the server refused the session: {r:?}"),
            Self::Timeout => write!(
                f,
                "the server did not answer the claim; is tickgate serve running?"
            ),
            Self::CredentialTooLong => write!(
                f,
                "username > {USERNAME_BYTES} or password > {PASSWORD_BYTES} bytes"
            ),
            Self::MarketData(e) => write!(f, "market-data ring: {e}"),
        }
    }
}

impl std::error::Error for ConnectError {}

impl From<IpcError> for ConnectError {
    fn from(e: IpcError) -> Self {
        Self::Ipc(e)
    }
}

/// A live shared-memory session of one algo process.
pub struct AlgoSession {
    path: PathBuf,
    mapping: Mapping,
    slot: usize,
    session: u32,
    generation: u64,
    orders: Producer,
    responses: Consumer,
    /// The server's ITCH ring, if it publishes one next to the directory.
    md: Option<ItchReader>,
    /// Sequence number of the next response this session expects.
    next_seq: u64,
    detached: bool,
}

impl AlgoSession {
    /// Claims a free slot of the directory at `path` for the account
    /// `username`/`password`, asking for responses from sequence `next_seq` (1 = the
    /// start of the session), and waits up to `timeout` for the server's decision.
    pub fn connect(
        path: &Path,
        username: &str,
        password: &str,
        next_seq: u64,
        timeout: Duration,
    ) -> Result<Self, ConnectError> {
        let user = pack::<USERNAME_BYTES>(username).ok_or(ConnectError::CredentialTooLong)?;
        let pass = pack::<PASSWORD_BYTES>(password).ok_or(ConnectError::CredentialTooLong)?;
        let mapping = Mapping::open(path)?;
        let generation = mapping.header().generation.load(Ordering::Relaxed);
        let slot = claim_free_slot(&mapping).ok_or(ConnectError::NoFreeSlot)?;
        write_claim(mapping.slot(slot), &user, &pass, next_seq, generation);
        let session = await_decision(mapping.slot(slot), timeout)?;
        let layout = mapping.ring_layout();
        let mut orders = Producer::attach(&ring_path(path, slot, "orders"), Some(layout))
            .map_err(|e| ConnectError::Ipc(e.into()))?;
        // The server polls it from another core.
        orders.set_demote(true);
        let responses = Consumer::attach(&ring_path(path, slot, "responses"), Some(layout))
            .map_err(|e| ConnectError::Ipc(e.into()))?;
        let md = match ItchReader::attach(&md_path(path), None) {
            Ok(r) => Some(r),
            Err(_) if !md_path(path).exists() => None,
            Err(e) => return Err(ConnectError::MarketData(e)),
        };
        Ok(Self {
            path: path.to_path_buf(),
            mapping,
            slot,
            session,
            generation,
            orders,
            responses,
            md,
            next_seq: next_seq.max(1),
            detached: false,
        })
    }

    /// The slot this session holds.
    pub fn slot(&self) -> usize {
        self.slot
    }

    /// The account's session id in the core.
    pub fn session(&self) -> u32 {
        self.session
    }

    /// Writes one encoded OUCH message to the order ring behind its
    /// [`OrderHeader`]. `Full` is back-pressure: the server has not caught up; never
    /// blocks.
    #[inline]
    pub fn send(&mut self, ouch: &[u8]) -> Result<(), SendError> {
        self.send_with(ouch.len(), |buf| buf.copy_from_slice(ouch))
    }

    /// Encodes `message` straight into the order ring's slot (no copy).
    #[inline]
    pub fn send_message(&mut self, message: &Inbound) -> Result<(), SendError> {
        self.send_with(message.encoded_len(), |buf| {
            // Cannot fail: `buf` is exactly `encoded_len` bytes.
            let _ = message.encode(buf);
        })
    }

    /// Enter Order, encoded in the ring slot.
    #[inline]
    pub fn enter_order(&mut self, m: &EnterOrder) -> Result<(), SendError> {
        self.send_with(m.encoded_len(), |buf| {
            // Cannot fail: `buf` is exactly `encoded_len` bytes.
            let _ = m.encode(buf);
        })
    }

    /// Cancel Order, encoded in the ring slot.
    #[inline]
    pub fn cancel_order(&mut self, m: &CancelOrder) -> Result<(), SendError> {
        self.send_with(m.encoded_len(), |buf| {
            // Cannot fail: `buf` is exactly `encoded_len` bytes.
            let _ = m.encode(buf);
        })
    }

    /// Replace Order, encoded in the ring slot.
    #[inline]
    pub fn replace_order(&mut self, m: &ReplaceOrder) -> Result<(), SendError> {
        self.send_with(m.encoded_len(), |buf| {
            // Cannot fail: `buf` is exactly `encoded_len` bytes.
            let _ = m.encode(buf);
        })
    }

    /// Modify Order, encoded in the ring slot.
    #[inline]
    pub fn modify_order(&mut self, m: &ModifyOrder) -> Result<(), SendError> {
        self.send_with(m.encoded_len(), |buf| {
            // Cannot fail: `buf` is exactly `encoded_len` bytes.
            let _ = m.encode(buf);
        })
    }

    /// Mass Cancel, encoded in the ring slot.
    #[inline]
    pub fn mass_cancel(&mut self, m: &MassCancel) -> Result<(), SendError> {
        self.send_with(m.encoded_len(), |buf| {
            // Cannot fail: `buf` is exactly `encoded_len` bytes.
            let _ = m.encode(buf);
        })
    }

    /// Writes a record of header + `len` message bytes built by `write` in place,
    /// tagged with the last market-data number read.
    #[inline]
    pub fn send_with(
        &mut self,
        len: usize,
        write: impl FnOnce(&mut [u8]),
    ) -> Result<(), SendError> {
        let header = OrderHeader {
            trigger_md_seq: self.md_seq(),
        };
        self.orders
            .try_write(ORDER_HEADER_BYTES + len, |buf| {
                header.encode(buf);
                write(&mut buf[ORDER_HEADER_BYTES..]);
            })
            .map_err(|e| match e {
                PushError::Full => SendError::Full,
                PushError::TooLong { len, max } => SendError::TooLong {
                    len: len - ORDER_HEADER_BYTES,
                    max: max - ORDER_HEADER_BYTES,
                },
            })
    }

    /// Reads up to `max` responses in place, each with its number in the account's
    /// stream, and proves liveness (heartbeat). A record shorter than its header
    /// (never written by a tickgate server) is skipped.
    #[inline]
    pub fn poll_responses(&mut self, max: usize, mut f: impl FnMut(u64, &[u8])) -> usize {
        self.heartbeat();
        let next_seq = &mut self.next_seq;
        self.responses.drain(max, |rec| {
            if let Some((seq, msg)) = decode_response(rec) {
                *next_seq = seq + 1;
                f(seq, msg);
            }
        })
    }

    /// The stream number of the next response this session expects: what to pass
    /// to [`AlgoSession::connect`] to carry on after a restart.
    pub fn next_expected_seq(&self) -> u64 {
        self.next_seq
    }

    /// Reads up to `max` ITCH messages in place with their market-data sequence
    /// numbers. `Err(Lapped)` once when this reader fell a whole ring behind (the
    /// messages before the lap were handed out; it reads on from the newest). No
    /// market-data ring: `Ok(0)`.
    #[inline]
    pub fn poll_market_data(
        &mut self,
        max: usize,
        f: impl FnMut(u64, &[u8]),
    ) -> Result<usize, Lapped> {
        let Some(md) = self.md.as_mut() else {
            return Ok(0);
        };
        match md.poll(max, f) {
            Ok(n) => Ok(n),
            Err(ReadError::Lapped { lost }) => Err(Lapped { lost }),
            Err(ReadError::Empty) => Ok(0),
        }
    }

    /// Sequence number of the last market-data message read (0 = none yet): the
    /// trigger tag of the next order sent.
    #[inline]
    pub fn md_seq(&self) -> u64 {
        self.md.as_ref().map_or(0, |m| m.next_sequence_number() - 1)
    }

    /// The market-data reader, e.g. to rewind to the oldest message kept.
    pub fn market_data(&mut self) -> Option<&mut ItchReader> {
        self.md.as_mut()
    }

    /// Tells the server this process is alive, and keeps the order ring's next slot
    /// at hand (its page's TLB entry, [`Producer::touch_next`]: the first order on a
    /// new page of the ring is otherwise late). [`AlgoSession::poll_responses`] does it
    /// too; call it from any loop that may go a while without polling.
    #[inline]
    pub fn heartbeat(&self) {
        self.orders.touch_next();
        // NB: a load and a store, not a `lock xadd`: this process is the counter's
        // only writer (the server only reads it), and the response-polling spin
        // calls this on every turn.
        let beat = &self.my_slot().heartbeat;
        beat.store(
            beat.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    /// Whether this session is still active in the server's eyes (false once the
    /// server freed the slot, e.g. after a liveness timeout).
    pub fn is_active(&self) -> bool {
        let s = self.my_slot();
        s.state.load(Ordering::Acquire) == SlotState::Active as u32
            && s.pid.load(Ordering::Relaxed) == std::process::id()
    }

    /// Whether the server that accepted this session is gone or was replaced by a new
    /// start (a new directory generation at the same path): reconnect if so.
    pub fn server_restarted(&self) -> bool {
        let pid = self.mapping.header().server_pid.load(Ordering::Relaxed);
        if !process_alive(pid) {
            return true;
        }
        match Mapping::open(&self.path) {
            Ok(m) => m.header().generation.load(Ordering::Relaxed) != self.generation,
            Err(_) => true,
        }
    }

    /// Detaches: the server cancels the session's orders (if configured) and frees the
    /// slot. Dropping the session does the same.
    pub fn detach(mut self) {
        self.mark_closing();
    }

    fn mark_closing(&mut self) {
        if !self.detached {
            self.detached = true;
            let s = self.my_slot();
            // Only our own active claim is ours to close.
            let _ = s.state.compare_exchange(
                SlotState::Active as u32,
                SlotState::Closing as u32,
                Ordering::Release,
                Ordering::Relaxed,
            );
        }
    }

    fn my_slot(&self) -> &SlotDesc {
        self.mapping.slot(self.slot)
    }
}

impl Drop for AlgoSession {
    fn drop(&mut self) {
        self.mark_closing();
    }
}

fn claim_free_slot(mapping: &Mapping) -> Option<usize> {
    (0..mapping.slots).find(|&i| {
        mapping
            .slot(i)
            .state
            // Pairs with the server's Release store of Free.
            .compare_exchange(
                SlotState::Free as u32,
                SlotState::Claiming as u32,
                Ordering::Acquire,
                Ordering::Relaxed,
            )
            .is_ok()
    })
}

fn write_claim(slot: &SlotDesc, user: &[u8; 8], pass: &[u8; 16], next_seq: u64, generation: u64) {
    slot.pid.store(std::process::id(), Ordering::Relaxed);
    slot.pid_gone.store(0, Ordering::Relaxed);
    slot.username
        .store(u64::from_le_bytes(*user), Ordering::Relaxed);
    for (w, chunk) in slot.password.iter().zip(pass.chunks_exact(8)) {
        w.store(
            u64::from_le_bytes(chunk.try_into().expect("8 bytes")),
            Ordering::Relaxed,
        );
    }
    slot.next_seq.store(next_seq, Ordering::Relaxed);
    slot.generation.store(generation, Ordering::Relaxed);
    slot.reject.store(0, Ordering::Relaxed);
    // Pairs with the server's Acquire load in poll_claims: the claim is complete.
    slot.state
        .store(SlotState::Pending as u32, Ordering::Release);
}

fn await_decision(slot: &SlotDesc, timeout: Duration) -> Result<u32, ConnectError> {
    let deadline = Instant::now() + timeout;
    loop {
        // Pairs with the server's Release store of its decision.
        match SlotState::from_u32(slot.state.load(Ordering::Acquire)) {
            Some(SlotState::Active) => return Ok(slot.session.load(Ordering::Relaxed)),
            Some(SlotState::Rejected) => {
                let reason = ClaimReject::from_u32(slot.reject.load(Ordering::Relaxed));
                slot.pid.store(0, Ordering::Relaxed);
                slot.state.store(SlotState::Free as u32, Ordering::Release);
                return Err(ConnectError::Refused(
                    reason.unwrap_or(ClaimReject::NotAuthorized),
                ));
            }
            _ if Instant::now() >= deadline => {
                // Withdraw, unless the server decided in the meantime.
                let withdrawn = slot.state.compare_exchange(
                    SlotState::Pending as u32,
                    SlotState::Free as u32,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
                if withdrawn.is_ok() {
                    return Err(ConnectError::Timeout);
                }
            }
            _ => std::thread::sleep(Duration::from_micros(200)),
        }
    }
}
