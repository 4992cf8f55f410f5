//! The core's part of the warm pass (`crate::session` runs the pass; shared threading,
//! where the core runs on the session layer's thread): given the command the session
//! layer made for its canned Enter, read what running it would read,
//! through the same functions, and change nothing (`docs/LATENCY.md` § The warm pass).

use super::run::ServeCore;
use crate::engine::Command;
use crate::risk::Screen;

/// Given the canned command `cmd`, prefetches what the core would prefetch, screens it against risk, reads the engine's side of an Enter (`Engine::warm_enter`), and
/// prefetches for writing the session's next response-ring slot and the journal's next
/// record line, and for reading the market-data ring's next slot (its page's TLB entry:
/// `docs/ALGOS.md` § Pages). Returns a word folded from what it read. No state changes.
pub(super) fn warm_core(core: &ServeCore, cmd: &Command) -> u64 {
    let risk = core.processor();
    risk.prefetch(cmd);
    let mut word = u64::from(matches!(risk.screen(cmd), Screen::Pass));
    if let Command::Enter(e) = cmd {
        word ^= risk.engine().warm_enter(e);
        if let Some(out) = core.outputs().get(usize::from(e.session)) {
            out.prefetch_next();
        }
    }
    if let Some(journal) = core.journal_writer() {
        journal.prefetch_next();
    }
    core.market().writer.touch_next();
    word
}
