//! The serving thread's stage stamps (feature `stage-stamps`, [`crate::hot::stamps`]),
//! printed step by step for the bench algo's Enter Orders: at a tick, in the closed
//! loop after the ticks (quiet) and in the second half of its warm-up.

use crate::clock::Clock;
use crate::hot::stamps::{self, Row, STEPS};

/// The algo's orders per round, by UserRefNum (each round's algo process counts from 1):
/// its warm-up orders, then one per tick (the warm-up ticks first), then the quiet ones.
pub(super) struct Phases {
    pub algo_warmup: u64,
    pub warmup_ticks: u64,
    pub ticks: u64,
}

impl Phases {
    /// The phase of the algo's order `urn`, or `None` (the cold first half of the
    /// warm-up, the warm-up ticks).
    fn of(&self, urn: u64) -> Option<usize> {
        let ticks_from = self.algo_warmup + self.warmup_ticks;
        let quiet_from = ticks_from + self.ticks;
        match urn {
            u if u > quiet_from => Some(1),
            u if u > ticks_from => Some(0),
            u if u > self.algo_warmup / 2 && u <= self.algo_warmup => Some(2),
            _ => None,
        }
    }
}

/// Prints, per step, p50 / p99 (ns) of the time from the step before, per phase.
pub(super) fn print(phases: &Phases, clock: &Clock) {
    let rows = stamps::rows();
    // The algo: the session with the most Enter Orders (the tick source sends one
    // per tick, the algo one per tick and its warm-up and quiet ones).
    let mut counts = std::collections::HashMap::<u16, usize>::new();
    for r in rows.iter().filter(|r| r.msg_type == b'O') {
        *counts.entry(r.session).or_default() += 1;
    }
    let Some((&algo, _)) = counts.iter().max_by_key(|(_, n)| **n) else {
        println!("stage stamps: no rows");
        return;
    };
    let mut by_phase: [Vec<&Row>; 3] = Default::default();
    for r in rows
        .iter()
        .filter(|r| r.session == algo && r.msg_type == b'O')
    {
        if let Some(p) = phases.of(u64::from(r.user_ref_num)) {
            by_phase[p].push(r);
        }
    }
    println!(
        "stage stamps (lfence; rdtsc, ≈ 20 ns each, in every step), the algo's Enter Orders \
         ({} at ticks, {} quiet, {} warm-up), ns p50 / p99 from the step before:",
        by_phase[0].len(),
        by_phase[1].len(),
        by_phase[2].len()
    );
    println!(
        "{:<24} {:>13} {:>13} {:>13}",
        "step", "tick", "quiet", "warm-up"
    );
    let ns = |a: u64, b: u64| clock.ticks_to_ns(b.saturating_sub(a));
    for i in 1..STEPS.len() {
        let cells = by_phase.each_ref().map(|rows| {
            let v = rows
                .iter()
                .filter(|r| r.tsc[i - 1] > 0 && r.tsc[i] > 0)
                .map(|r| ns(r.tsc[i - 1], r.tsc[i]));
            p50_p99(v)
        });
        let name = format!("{} -> {}", STEPS[i - 1], STEPS[i]);
        println!(
            "{name:<24} {:>13} {:>13} {:>13}",
            cells[0], cells[1], cells[2]
        );
    }
    let answered = STEPS.len() - 2;
    let cells = by_phase.each_ref().map(|rows| {
        p50_p99(
            rows.iter()
                .filter(|r| r.tsc[0] > 0 && r.tsc[answered] > 0)
                .map(|r| ns(r.tsc[0], r.tsc[answered])),
        )
    });
    let name = format!("{} -> {}", STEPS[0], STEPS[answered]);
    println!(
        "{name:<24} {:>13} {:>13} {:>13}",
        cells[0], cells[1], cells[2]
    );
}

/// "p50 / p99" of `values`, or "-".
fn p50_p99(values: impl Iterator<Item = u64>) -> String {
    let mut v: Vec<u64> = values.collect();
    if v.is_empty() {
        return "-".into();
    }
    v.sort_unstable();
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    format!("{} / {}", at(0.5), at(0.99))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_by_user_ref_num() {
        let p = Phases {
            algo_warmup: 100,
            warmup_ticks: 20,
            ticks: 50,
        };
        assert_eq!(p.of(10), None, "the cold half of the warm-up");
        assert_eq!(p.of(51), Some(2));
        assert_eq!(p.of(100), Some(2));
        assert_eq!(p.of(110), None, "a warm-up tick");
        assert_eq!(p.of(121), Some(0));
        assert_eq!(p.of(170), Some(0));
        assert_eq!(p.of(171), Some(1));
        assert_eq!(p50_p99([5, 1, 3].into_iter()), "3 / 5");
        assert_eq!(p50_p99(std::iter::empty()), "-");
    }
}
