//! OUCH System Events: Start of Day (`S`) and End of Day (`E`) in every account's
//! stream (`gateway.system_events`, on by default).
//!
//! - **Start of Day** is each account's first message of the day. It goes through the
//!   core as an `Echo` like every session-layer answer, so it is journaled: after a
//!   restart the replayed stream already holds it and it is not sent again. The rule
//!   is "an account whose stream is empty gets one", checked once at the first poll
//!   (after recovery), so a crash between start-up and the journal append is covered.
//! - **End of Day** goes to every account at a graceful stop; End of Session (`Z`)
//!   waits until each has come back through the core, so it is the last message of the
//!   stream and — in `sync` durability — durable before `Z` (the drain deadline bounds
//!   the wait if the core has stopped).

use super::Sessions;
use crate::gateway::Outbox;
use crate::proto::ouch::{Outbound, SystemEvent, SystemEventCode};

/// Where the day is.
#[derive(Debug)]
pub(super) struct Day {
    enabled: bool,
    started: bool,
    /// End of Day sent to the core (`None`: not yet).
    end_of_day_pending: Option<usize>,
}

impl Day {
    pub(super) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            started: false,
            end_of_day_pending: None,
        }
    }

    #[inline]
    pub(super) fn started(&self) -> bool {
        self.started
    }

    /// Counts an End of Day coming back from the core.
    #[inline]
    pub(super) fn on_echo(&mut self, bytes: &[u8]) {
        if let Some(n) = &mut self.end_of_day_pending
            && bytes.len() == SystemEvent::LEN
            && bytes[0] == SystemEvent::TYPE
            && bytes[SystemEvent::LEN - 1] == SystemEventCode::EndOfDay as u8
        {
            *n = n.saturating_sub(1);
        }
    }
}

impl Sessions {
    /// Start of Day into every account stream that is still empty.
    pub(super) fn start_of_day(&mut self, out: &mut Outbox<'_>) {
        self.day.started = true;
        if !self.day.enabled {
            return;
        }
        let ts_ns = self.ts_ns(out.now_ns());
        let msg = Outbound::SystemEvent(SystemEvent {
            timestamp: ts_ns,
            event_code: SystemEventCode::StartOfDay,
        });
        for acc in 0..self.accounts.len() {
            if self.accounts[acc].store.next_sequence_number() == 1 {
                self.answer(acc as u16, ts_ns, (0, 0), &msg, out);
            }
        }
    }

    /// Sends End of Day to every account once; `true` when End of Session may go
    /// (every End of Day is back from the core, or system events are off).
    pub(super) fn end_of_day(&mut self, out: &mut Outbox<'_>) -> bool {
        if !self.day.enabled {
            return true;
        }
        if self.day.end_of_day_pending.is_none() {
            let ts_ns = self.ts_ns(out.now_ns());
            let msg = Outbound::SystemEvent(SystemEvent {
                timestamp: ts_ns,
                event_code: SystemEventCode::EndOfDay,
            });
            let mut sent = 0;
            for acc in 0..self.accounts.len() {
                if !self.accounts[acc].ended
                    && self.try_answer(acc as u16, ts_ns, (0, 0), &msg, out)
                {
                    sent += 1;
                }
            }
            self.day.end_of_day_pending = Some(sent);
        }
        self.day.end_of_day_pending == Some(0) && self.pending_answers.is_empty()
    }
}
