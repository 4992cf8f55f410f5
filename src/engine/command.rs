//! Commands into the core: fixed-size, wire-format independent records.
//!
//! The session layer decodes OUCH (or anything else) into these. Every command carries
//! the timestamp that is the core's notion of time (`ts_ns`, nanoseconds since midnight)
//! and, for order entry, the session (OUCH account) and UserRefIdx channel.
//!
//! Orders are addressed by [`OrderRef`], the core's handle returned in `Accepted`; the
//! session layer keeps its UserRefNum → OrderRef map (see `docs/MATCHING.md`), and the
//! core checks that the handle's order belongs to the same session, channel and
//! UserRefNum, so a stale or forged handle is ignored, never applied to another order.

use super::types::{ControlAction, OrderRef, Side, StpMode, Tif, TradingState};
use super::wire::{record, record_enum};

/// In a [`Replace`], "inherit the original's value" for `min_qty`, `max_floor` and
/// `expire_time_s` (OUCH: an unspecified appendage defaults to the original's).
pub const INHERIT: u32 = u32::MAX;

record! {
    /// Enter Order (OUCH `O`).
    pub struct Enter {
        /// Core time of this command (ns since midnight).
        pub ts_ns: u64,
        /// Session (OUCH account) id, `0..max_sessions`.
        pub session: u16,
        /// UserRefIdx channel within the session.
        pub user_ref_idx: u8,
        /// Must be above the channel's last UserRefNum.
        pub user_ref_num: u32,
        /// Instrument index (ITCH stock locate).
        pub instrument: u16,
        /// Side.
        pub side: Side,
        /// Total shares.
        pub qty: u32,
        /// Limit price (4 implied decimals); ≥ [`MARKET_PRICE`](super::types::MARKET_PRICE) = market.
        pub price: u64,
        /// Time in force.
        pub tif: Tif,
        /// Hidden orders print no ITCH `A`.
        pub display: super::types::Display,
        /// Post-only: never takes (repriced behind the contra best; see docs).
        pub post_only: bool,
        /// Self-match prevention strategy of this firm.
        pub stp: StpMode,
        /// Firm id (four ASCII characters, see [`firm_id`](super::types::firm_id)).
        pub firm: u32,
        /// Minimum quantity to execute on entry, 0 = none (IOC only).
        pub min_qty: u32,
        /// Reserve order: displayed quantity, 0 = not a reserve order.
        pub max_floor: u32,
        /// GTT: seconds to live.
        pub expire_time_s: u32,
    }
}

record! {
    /// Replace Order (OUCH `U`): a new UserRefNum, new details, always loses priority.
    pub struct Replace {
        /// Core time of this command.
        pub ts_ns: u64,
        /// Session id.
        pub session: u16,
        /// UserRefIdx channel.
        pub user_ref_idx: u8,
        /// The replacement's UserRefNum (must be above the channel's high-water mark).
        pub user_ref_num: u32,
        /// The UserRefNum of the order being replaced.
        pub orig_user_ref_num: u32,
        /// The core's handle of the order being replaced.
        pub order: OrderRef,
        /// Total shares liable, including shares already executed or STP-decremented.
        pub qty: u32,
        /// New limit price (market sentinel allowed).
        pub price: u64,
        /// New time in force.
        pub tif: Tif,
        /// New display.
        pub display: super::types::Display,
        /// New post-only flag.
        pub post_only: bool,
        /// New side: must rest on the same book side (S/T/E swap only).
        pub side: Side,
        /// New MinQty, or [`INHERIT`].
        pub min_qty: u32,
        /// New MaxFloor, or [`INHERIT`].
        pub max_floor: u32,
        /// New ExpireTime, or [`INHERIT`].
        pub expire_time_s: u32,
    }
}

record! {
    /// Cancel Order (OUCH `X`): reduce to an intended size; 0 cancels all.
    pub struct Cancel {
        /// Core time of this command.
        pub ts_ns: u64,
        /// Session id.
        pub session: u16,
        /// UserRefIdx channel.
        pub user_ref_idx: u8,
        /// The order's current UserRefNum.
        pub user_ref_num: u32,
        /// The core's handle of the order.
        pub order: OrderRef,
        /// New intended size: total shares that may execute, including those already
        /// executed. 0 = cancel all remaining.
        pub qty: u32,
    }
}

record! {
    /// Modify Order (OUCH `M`): side swap among S/T/E and/or reduction; keeps priority.
    pub struct Modify {
        /// Core time of this command.
        pub ts_ns: u64,
        /// Session id.
        pub session: u16,
        /// UserRefIdx channel.
        pub user_ref_idx: u8,
        /// The order's current UserRefNum.
        pub user_ref_num: u32,
        /// The core's handle of the order.
        pub order: OrderRef,
        /// New side.
        pub side: Side,
        /// New intended size (as in [`Cancel`]); an increase is ignored.
        pub qty: u32,
    }
}

record! {
    /// Mass Cancel (OUCH `C`): all of the session's orders for a firm, optionally one
    /// instrument.
    pub struct MassCancel {
        /// Core time of this command.
        pub ts_ns: u64,
        /// Session id.
        pub session: u16,
        /// UserRefIdx channel (its UserRefNum is consumed).
        pub user_ref_idx: u8,
        /// UserRefNum of this request.
        pub user_ref_num: u32,
        /// Firm whose orders are cancelled.
        pub firm: u32,
        /// Instrument, or [`ALL_INSTRUMENTS`](super::types::ALL_INSTRUMENTS).
        pub instrument: u16,
    }
}

record! {
    /// Operator command: change an instrument's trading state (halt, resume, close,
    /// expire). Closing or expiring cancels every resting order of the instrument.
    pub struct SetTradingState {
        /// Core time of this command.
        pub ts_ns: u64,
        /// Instrument index.
        pub instrument: u16,
        /// New state.
        pub state: TradingState,
    }
}

record! {
    /// Operator command: an ITCH system event. Code `O` (start of messages) also
    /// publishes the stock directory (`R`) and trading action (`H`) of every instrument.
    pub struct SystemEvent {
        /// Core time of this command.
        pub ts_ns: u64,
        /// ITCH event code (`O`, `S`, `Q`, `M`, `E`, `C`).
        pub code: u8,
    }
}

record! {
    /// Advances the core's time only (expires GTT orders due by `ts_ns`).
    pub struct Tick {
        /// Core time of this command.
        pub ts_ns: u64,
    }
}

/// Bytes of a session-layer message an [`Echo`] carries.
pub const ECHO_BYTES: usize = 39;

record! {
    /// A session-layer answer that needs a place in the session's stream (a Rejected
    /// the session layer decided, an Account Query Response, …): the core changes no
    /// state, journals it like any input, and returns it as
    /// [`Echoed`](super::event::Echoed) in order with the session's other events, so
    /// that a replay of the journal rebuilds every stream exactly.
    pub struct Echo {
        /// Core time of this command.
        pub ts_ns: u64,
        /// Session id.
        pub session: u16,
        /// UserRefIdx channel of the UserRefNum the message consumed.
        pub user_ref_idx: u8,
        /// The UserRefNum the message consumed (0: none).
        pub user_ref_num: u32,
        /// Bytes used of `bytes`.
        pub len: u8,
        /// The session layer's encoded message (opaque to the core).
        pub bytes: [u8; ECHO_BYTES],
    }
}

/// Bytes of a session-layer answer a [`Control`] carries.
pub const CONTROL_BYTES: usize = 32;

record! {
    /// Order-entry control acted on by pre-trade risk (`risk::RiskCore`): OUCH Disable /
    /// Enable Order Entry from a session, or the operator's kill switch, enable and
    /// status from the local control channel (`session` =
    /// [`CONTROL_SESSION`](super::types::CONTROL_SESSION)). Journaled like any input, so
    /// a replay blocks and cancels exactly as the day did. The answer comes back in
    /// order as an [`Echoed`](super::event::Echoed): `bytes` for a session (its OUCH
    /// response), the result for the operator. The bare engine changes nothing.
    pub struct Control {
        /// Core time of this command.
        pub ts_ns: u64,
        /// Session the answer goes to.
        pub session: u16,
        /// UserRefIdx channel of the UserRefNum the message consumed.
        pub user_ref_idx: u8,
        /// The UserRefNum the message consumed (0: none).
        pub user_ref_num: u32,
        /// What to do.
        pub action: ControlAction,
        /// The account (session id) it applies to.
        pub account: u16,
        /// Operator request number, returned in the answer (0 for a session).
        pub request: u32,
        /// Bytes used of `bytes`.
        pub len: u8,
        /// The session layer's encoded answer (opaque to the core).
        pub bytes: [u8; CONTROL_BYTES],
    }
}

impl Control {
    /// The answer to this command: its `bytes` for a session, or `result` (big-endian,
    /// 8 bytes) for the operator, as an `Echoed` to `session` naming `request` (the
    /// operator) or the consumed UserRefNum.
    pub fn answer(&self, result: u64) -> super::event::Echoed {
        let mut bytes = [0u8; ECHO_BYTES];
        let len = if self.session == super::types::CONTROL_SESSION {
            bytes[..8].copy_from_slice(&result.to_be_bytes());
            8
        } else {
            let n = usize::from(self.len).min(CONTROL_BYTES);
            bytes[..n].copy_from_slice(&self.bytes[..n]);
            n as u8
        };
        let operator = self.session == super::types::CONTROL_SESSION;
        super::event::Echoed {
            ts_ns: self.ts_ns,
            session: self.session,
            user_ref_idx: self.user_ref_idx,
            user_ref_num: if operator {
                self.request
            } else {
                self.user_ref_num
            },
            len,
            bytes,
        }
    }
}

record_enum! {
    super::wire::RECORD_BYTES;
    /// A command into the matching core.
    pub enum Command {
        /// Enter Order.
        Enter(Enter) = b'O',
        /// Replace Order.
        Replace(Replace) = b'U',
        /// Cancel Order.
        Cancel(Cancel) = b'X',
        /// Modify Order.
        Modify(Modify) = b'M',
        /// Mass Cancel.
        MassCancel(MassCancel) = b'C',
        /// Set trading state.
        SetTradingState(SetTradingState) = b'H',
        /// System event.
        SystemEvent(SystemEvent) = b'S',
        /// Time tick.
        Tick(Tick) = b'T',
        /// A session-layer answer to sequence.
        Echo(Echo) = b'e',
        /// Order-entry control (risk).
        Control(Control) = b'k',
    }
}

impl Command {
    /// The command's timestamp: the core's time while it runs.
    #[inline]
    pub fn ts_ns(&self) -> u64 {
        match self {
            Command::Enter(c) => c.ts_ns,
            Command::Replace(c) => c.ts_ns,
            Command::Cancel(c) => c.ts_ns,
            Command::Modify(c) => c.ts_ns,
            Command::MassCancel(c) => c.ts_ns,
            Command::SetTradingState(c) => c.ts_ns,
            Command::SystemEvent(c) => c.ts_ns,
            Command::Tick(c) => c.ts_ns,
            Command::Echo(c) => c.ts_ns,
            Command::Control(c) => c.ts_ns,
        }
    }
}
