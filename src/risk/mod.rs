//! Pre-trade risk, message throttles, kill switch and overload protection.
//!
//! Where each check runs (see `docs/RISK.md`):
//!
//! - **Gateway thread** (session layer), before a command is pushed to the core:
//!   [`throttle::SessionThrottle`] (message rate per session and class: reject, then
//!   logout) and [`overload::Overload`] (new orders are rejected "system busy" while
//!   the core's input ring is past its high-water mark; cancels pass). Both keep
//!   per-session state only and take the time from the caller.
//! - **Matching core**, the single writer of positions: [`RiskCore`] wraps the
//!   [`Engine`](crate::engine::Engine), screens an Enter before the engine and a
//!   Replace inside it, once the engine has found the order
//!   (`EventSink::admit_replace`), against the account's [`limits`] (max order quantity
//!   and notional, max open orders, max worst-case net position per instrument, price
//!   collar) and kill switch, and keeps open orders and positions by observing the
//!   engine's events with its view of each order ([`ledger`]).
//!
//! Every refusal is a typed [`RiskReject`] with one OUCH 5.0 reject code.

mod core;
pub mod ledger;
pub mod limits;
pub mod overload;
mod reject;
pub mod throttle;

pub use self::core::{AccountRisk, RiskCore, RiskCounters, Screen};
pub use limits::{AccountLimits, Exposure};
pub use overload::Overload;
pub use reject::{Limit, RiskReject};
pub use throttle::{MessageClass, SessionThrottle, Verdict};
