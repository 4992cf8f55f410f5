//! Rebuilding the session layer from the core's journal at start-up.
//!
//! The journal holds every input record the core took, in the core's order (see
//! [`super::record`]). Replaying one record is: [`Sessions::recover_input`] (the
//! UserRefNum it used up, the order details of an Enter/Replace), then the core processes the command, then every event it emits goes
//! through [`Sessions::recover_event`] — the same code that numbers, stores and
//! tracks events in production, minus the sending. Each account's stream, UserRefNum
//! high-water marks and open-order map end up as they were; clients then log in with
//! the sequence number they expect next and are replayed what they missed.

use super::{Sessions, record};
use crate::engine::wire::DecodeError;
use crate::engine::{Command, OrderEvent};

impl Sessions {
    /// Applies the session-side effects of one journaled input record and returns its
    /// command for the core. A record that does not decode is an error (the journal's
    /// CRC passed, so it was written by an incompatible build).
    pub fn recover_input(&mut self, record: &[u8]) -> Result<Command, DecodeError> {
        let cmd = Command::decode(record)?;
        let (session, idx, urn) = match &cmd {
            Command::Enter(c) => (c.session, c.user_ref_idx, c.user_ref_num),
            Command::Replace(c) => (c.session, c.user_ref_idx, c.user_ref_num),
            Command::MassCancel(c) => (c.session, c.user_ref_idx, c.user_ref_num),
            Command::Echo(c) => (c.session, c.user_ref_idx, c.user_ref_num),
            Command::Control(c) => (c.session, c.user_ref_idx, c.user_ref_num),
            _ => return Ok(cmd),
        };
        let Some(a) = self.accounts.get_mut(usize::from(session)) else {
            return Ok(cmd);
        };
        if urn != 0 {
            a.user_ref_nums.consume(idx, urn);
        }
        if let Command::Enter(_) | Command::Replace(_) = &cmd
            && let Some(info) = record::order_info(record)
        {
            a.orders.insert(idx, urn, info);
        }
        Ok(cmd)
    }

    /// One event the core emitted while replaying: numbered into its session's stream
    /// and tracked, as in production (nobody is connected yet).
    pub fn recover_event(&mut self, ev: &OrderEvent) {
        self.on_event(ev, None);
    }

    /// Ends a recovery: orders whose Enter/Replace never reached the journal (the
    /// process died with them in the ring) are forgotten; they were never answered.
    pub fn finish_recovery(&mut self) {
        for a in &mut self.accounts {
            a.orders.forget_in_flight();
        }
    }
}
