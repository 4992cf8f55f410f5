//! The session layer's risk checks, before a message becomes a core command: the
//! account's message throttle (reject, then logout and cancel-on-disconnect) and the
//! command ring's overload marks (new orders busy-rejected, cancels pass). See
//! `docs/RISK.md`.
//!
//! Both answer through the same path as every session-layer reject (an `Echo` through
//! the core), so each refused order gets exactly one numbered, journaled Rejected.

use super::Sessions;
use super::translate::Origin;
use crate::config::Config;
use crate::gateway::Outbox;
use crate::proto::ouch::{self, CancelReject, Inbound, OptionValues, Outbound};
use crate::risk::{MessageClass, Overload, RiskReject, SessionThrottle, Verdict};

/// Per-account throttles and the command ring's overload marks.
#[derive(Debug)]
pub(super) struct Guards {
    /// One per account (session id).
    throttles: Vec<SessionThrottle>,
    overload: Overload,
    ring_records: usize,
}

impl Guards {
    pub(super) fn new(config: &Config) -> Self {
        let r = &config.risk;
        let ring_records = config.gateway.command_ring_records;
        Guards {
            throttles: (0..config.accounts.len())
                .map(|i| SessionThrottle::from_config(&config.account_risk(i)))
                .collect(),
            overload: Overload::new(
                ring_records,
                r.overload_high_water_pct,
                r.overload_low_water_pct,
            ),
            ring_records,
        }
    }
}

/// The throttle class of an OUCH message; `None` (never throttled) for Disable /
/// Enable Order Entry and Account Query.
fn class<O>(m: &Inbound<O>) -> Option<MessageClass> {
    match m {
        Inbound::EnterOrder(_) | Inbound::ReplaceOrder(_) => Some(MessageClass::NewOrReplace),
        Inbound::CancelOrder(_) | Inbound::ModifyOrder(_) | Inbound::MassCancel(_) => {
            Some(MessageClass::Cancel)
        }
        _ => None,
    }
}

impl Sessions {
    /// Throttle and overload checks of a message from account `o.session` whose
    /// UserRefNum is consumed. `true`: pass it on; `false`: it was answered here (and on
    /// a logout verdict the connection is closing: cancel-on-disconnect follows).
    pub(super) fn admit<O: OptionValues>(
        &mut self,
        m: &Inbound<O>,
        o: Origin,
        now_ns: u64,
        out: &mut Outbox<'_>,
    ) -> bool {
        let Some(class) = class(m) else { return true };
        let verdict = match self.guards.throttles.get_mut(usize::from(o.session)) {
            Some(t) => t.check(class, now_ns),
            None => Verdict::Accept,
        };
        let refusal = match verdict {
            Verdict::Accept => self.overload(class).err(),
            Verdict::Reject(r) => Some(r),
            Verdict::Logout => Some(RiskReject::PortMessageRateRestriction),
        };
        let Some(reject) = refusal else { return true };
        match reject {
            RiskReject::ProcessingError => self.counters.busy_rejects += 1,
            _ => self.counters.throttled += 1,
        }
        self.refuse(m, o, reject, out);
        if verdict == Verdict::Logout {
            self.throttle_logout(o.session, out);
        }
        false
    }

    /// The overload check of the command ring: only new orders and replaces are
    /// refused. The ring's head is re-read only near the marks.
    fn overload(&mut self, class: MessageClass) -> Result<(), RiskReject> {
        let g = &mut self.guards;
        let mut used = self.commands.queued();
        if used > g.overload.low_water_slots() {
            used = g.ring_records - self.commands.free_slots();
        }
        g.overload.admit(class, g.ring_records.saturating_sub(used))
    }

    /// Answers a refused message: Rejected for an Enter or Replace, Cancel Reject for a
    /// Cancel; a Modify or Mass Cancel has no OUCH refusal and is dropped (counted).
    fn refuse<O: OptionValues>(
        &mut self,
        m: &Inbound<O>,
        o: Origin,
        reject: RiskReject,
        out: &mut Outbox<'_>,
    ) {
        let reason = reject.ouch();
        match m {
            Inbound::EnterOrder(e) => {
                let idx = e.options.user_ref_idx().unwrap_or(0);
                self.session_reject(o, idx, e.user_ref_num, reason, e.cl_ord_id, out);
            }
            Inbound::ReplaceOrder(r) => {
                let idx = r.options.user_ref_idx().unwrap_or(0);
                self.session_reject(o, idx, r.user_ref_num, reason, r.cl_ord_id, out);
            }
            Inbound::CancelOrder(c) => {
                let idx = c.options.user_ref_idx().unwrap_or(0);
                let reply = Outbound::CancelReject(CancelReject {
                    timestamp: o.ts_ns,
                    user_ref_num: c.user_ref_num,
                    options: ouch::Options::user_ref_idx_only(idx),
                });
                self.answer(o.session, o.ts_ns, (idx, 0), &reply, out);
            }
            _ => self.counters.throttled_dropped += 1,
        }
    }

    /// Logs out the account's connection (or ends its algo session) for exceeding its
    /// throttle's logout threshold; cancel-on-disconnect follows (`on_close`, or the
    /// slot's release).
    fn throttle_logout(&mut self, acc: u16, out: &mut Outbox<'_>) {
        self.counters.throttle_logouts += 1;
        if let Some(slot) = self.accounts[usize::from(acc)].shm_slot {
            return self.end_algo_for_message_rate(slot);
        }
        let Some(conn) = self.accounts[usize::from(acc)].conn else {
            return;
        };
        let name = self.accounts[usize::from(acc)].username;
        self.logf(format_args!(
            "{conn}: account {name} over its message-rate logout threshold; logging out"
        ));
        self.close(conn, "message rate", out);
    }
}
