//! Message-rate throttles: per session and message class, on the gateway thread.
//!
//! Each class (new/replace orders; cancels, modifies and mass cancels) has a token
//! bucket, implemented as GCRA (the "virtual scheduling" form of a token bucket): one
//! `u64` theoretical arrival time, one compare per message, no division, no clock call —
//! the caller passes the time. Two thresholds, CME style:
//!
//! - **reject**: a message finding the bucket empty (more than `burst` messages at once,
//!   or a sustained rate above `rate_per_s`) is rejected with
//!   [`RiskReject::PortMessageRateRestriction`] and never reaches the core;
//! - **logout**: when more than `logout_after` messages of one class were rejected
//!   within one window of `window_ns`, the verdict is [`Verdict::Logout`]: the session
//!   layer logs the session out and cancel-on-disconnect fires.
//!
//! A rejected message takes no token, so a session that slows down recovers as soon as
//! the bucket refills; the rejection count restarts with each window.
//!
//! ```
//! use tickgate::risk::throttle::{ClassLimits, MessageClass, SessionThrottle, Verdict};
//! let limits = ClassLimits { rate_per_s: 1_000, burst: 2, window_ns: 1_000_000_000, logout_after: 1 };
//! let mut t = SessionThrottle::new(limits, limits);
//! assert_eq!(t.check(MessageClass::NewOrReplace, 0), Verdict::Accept);
//! assert_eq!(t.check(MessageClass::NewOrReplace, 0), Verdict::Accept);
//! assert!(matches!(t.check(MessageClass::NewOrReplace, 0), Verdict::Reject(_)));
//! assert_eq!(t.check(MessageClass::NewOrReplace, 0), Verdict::Logout);
//! assert_eq!(t.check(MessageClass::Cancel, 0), Verdict::Accept);
//! assert_eq!(t.check(MessageClass::NewOrReplace, 1_000_000), Verdict::Accept);
//! ```

use super::RiskReject;
use crate::config::AccountRiskConfig;
use crate::engine::Command;

/// The two throttled message classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageClass {
    /// Enter Order and Replace Order: add risk.
    NewOrReplace,
    /// Cancel, Modify and Mass Cancel: remove risk.
    Cancel,
}

impl MessageClass {
    /// The class of a core command; `None` for operator commands (never throttled).
    #[inline]
    pub fn of(cmd: &Command) -> Option<Self> {
        match cmd {
            Command::Enter(_) | Command::Replace(_) => Some(Self::NewOrReplace),
            Command::Cancel(_) | Command::Modify(_) | Command::MassCancel(_) => Some(Self::Cancel),
            _ => None,
        }
    }
}

/// What the session layer does with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Pass it on.
    Accept,
    /// Answer it with this reject and do not pass it on.
    Reject(RiskReject),
    /// Reject it, log the session out; cancel-on-disconnect applies.
    Logout,
}

/// Limits of one message class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassLimits {
    /// Sustained messages per second; 0 = unlimited (no throttle at all).
    pub rate_per_s: u32,
    /// Messages that may arrive at once (bucket depth); 0 is taken as 1.
    pub burst: u32,
    /// Length of the window in which rejections are counted.
    pub window_ns: u64,
    /// Rejections within one window above which the session is logged out; 0 = never.
    pub logout_after: u32,
}

/// A token bucket as GCRA: conforming while the theoretical arrival time is at most
/// `tolerance_ns` ahead of now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bucket {
    /// Time one token takes to refill (1 s ÷ rate, rounded down to whole ns); 0 = off.
    interval_ns: u64,
    /// (burst − 1) × interval: how far ahead of now the schedule may run.
    tolerance_ns: u64,
    /// Theoretical arrival time of the next message on the sustained schedule.
    tat_ns: u64,
}

impl Bucket {
    /// A full bucket.
    pub fn new(rate_per_s: u32, burst: u32) -> Self {
        let interval_ns = match rate_per_s {
            0 => 0,
            r => (1_000_000_000 / u64::from(r)).max(1),
        };
        Bucket {
            interval_ns,
            tolerance_ns: interval_ns * u64::from(burst.max(1) - 1),
            tat_ns: 0,
        }
    }

    /// Takes a token at `now_ns` if there is one. Time that goes backwards is treated
    /// as no time passing.
    #[inline]
    pub fn take(&mut self, now_ns: u64) -> bool {
        if self.interval_ns == 0 {
            return true;
        }
        let tat = self.tat_ns.max(now_ns);
        if tat - now_ns > self.tolerance_ns {
            return false;
        }
        self.tat_ns = tat + self.interval_ns;
        true
    }
}

/// One class's bucket and its rejection window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassThrottle {
    bucket: Bucket,
    window_ns: u64,
    logout_after: u32,
    window_start_ns: u64,
    /// Rejections in the current window.
    rejected_in_window: u32,
    /// Rejections since construction.
    rejected_total: u64,
}

impl ClassThrottle {
    /// A throttle with a full bucket.
    pub fn new(l: ClassLimits) -> Self {
        ClassThrottle {
            bucket: Bucket::new(l.rate_per_s, l.burst),
            window_ns: l.window_ns,
            logout_after: l.logout_after,
            window_start_ns: 0,
            rejected_in_window: 0,
            rejected_total: 0,
        }
    }

    /// The verdict for one message at `now_ns`.
    #[inline]
    pub fn check(&mut self, now_ns: u64) -> Verdict {
        if self.bucket.take(now_ns) {
            return Verdict::Accept;
        }
        self.over_limit(now_ns)
    }

    #[cold]
    fn over_limit(&mut self, now_ns: u64) -> Verdict {
        if now_ns.saturating_sub(self.window_start_ns) >= self.window_ns
            || now_ns < self.window_start_ns
        {
            self.window_start_ns = now_ns;
            self.rejected_in_window = 0;
        }
        self.rejected_in_window = self.rejected_in_window.saturating_add(1);
        self.rejected_total += 1;
        if self.logout_after != 0 && self.rejected_in_window > self.logout_after {
            Verdict::Logout
        } else {
            Verdict::Reject(RiskReject::PortMessageRateRestriction)
        }
    }

    /// Messages rejected since construction.
    pub fn rejected(&self) -> u64 {
        self.rejected_total
    }
}

/// The throttles of one session: one per [`MessageClass`]. No allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionThrottle {
    orders: ClassThrottle,
    cancels: ClassThrottle,
}

impl SessionThrottle {
    /// Throttles with full buckets.
    pub fn new(orders: ClassLimits, cancels: ClassLimits) -> Self {
        SessionThrottle {
            orders: ClassThrottle::new(orders),
            cancels: ClassThrottle::new(cancels),
        }
    }

    /// Throttles from an account's risk settings ([`Config::account_risk`](crate::config::Config::account_risk)).
    pub fn from_config(c: &AccountRiskConfig) -> Self {
        let window_ns = c.throttle_window_ms.saturating_mul(1_000_000);
        let class = |rate_per_s, burst| ClassLimits {
            rate_per_s,
            burst,
            window_ns,
            logout_after: c.throttle_logout_after,
        };
        Self::new(
            class(c.order_rate_per_s, c.order_burst),
            class(c.cancel_rate_per_s, c.cancel_burst),
        )
    }

    /// The verdict for one message of `class` arriving at `now_ns` (the caller's clock,
    /// e.g. the calibrated TSC in ns). Constant time; no allocation, no syscall.
    #[inline]
    pub fn check(&mut self, class: MessageClass, now_ns: u64) -> Verdict {
        match class {
            MessageClass::NewOrReplace => self.orders.check(now_ns),
            MessageClass::Cancel => self.cancels.check(now_ns),
        }
    }

    /// Messages of `class` rejected since construction.
    pub fn rejected(&self, class: MessageClass) -> u64 {
        match class {
            MessageClass::NewOrReplace => self.orders.rejected(),
            MessageClass::Cancel => self.cancels.rejected(),
        }
    }
}
