//! Every round's p50s and p99s, kept apart: each round against its own floor (the
//! ratios by round), and with `--ab KEY=VALUE` the server's variant alternated round by
//! round and compared in pairs.
//!
//! On a shared VM whole runs, and stretches of a run, fall into modes — the two vCPUs
//! placed nearer or further apart on the host — that move the floor, `tick_to_algo` and
//! every later stage together by more than most changes to the server are worth
//! (docs/LATENCY.md § Comparing within a run). With `--ab`, even rounds run the server
//! as configured (A) and odd rounds with one `[threads]` setting changed (B). Each
//! round's p50s and p99s are kept (as measured, not corrected for coordinated omission:
//! the comparison is of the server's work, not of the schedule), and rounds 2k and
//! 2k + 1 make a pair. A pair counts only when its two `tick_to_algo` p50s are within
//! [`SAME_PLACEMENT_NS`]: that stage (server → algo) is what the placement moves and a
//! change to the server's order path does not. The p99s are compared over the same
//! pairs: a change that moves the tail (a wait behind other work) shows there, not in
//! the p50.

use hdrhistogram::Histogram;
use serde_json::json;

use super::{RoundOutput, STAGES, Stages, T2tArgs};
use crate::bench::report::latency_histogram;
use crate::clock::Clock;

/// The most two neighbouring rounds' `tick_to_algo` p50s may differ (ns) and still be
/// taken as the same placement.
pub const SAME_PLACEMENT_NS: u64 = 15;

/// The quiet stages kept per round after `STAGES`.
const QUIET: [&str; 2] = ["order_to_core_quiet", "core_to_ack_quiet"];

/// The last column of a round: its floor (the cache-line RTT measured at the round's
/// start), so that a round's stages can be read against the placement it ran at.
const FLOOR: &str = "floor";

/// The `[threads]` setting the B rounds change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbChange {
    /// `threads.hot_polls`.
    HotPolls(u32),
    /// `threads.warm_interval_us`.
    WarmIntervalUs(u64),
    /// `threads.direct_orders`.
    DirectOrders(bool),
}

impl AbChange {
    /// Parses `hot_polls=N`, `warm_interval_us=N` or `direct_orders=true|false`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let Some((key, value)) = s.split_once('=') else {
            return Err(format!("{s:?}: expected KEY=VALUE"));
        };
        let (key, value) = (key.trim(), value.trim());
        let bad = |e: &dyn std::fmt::Display| format!("{key} = {value:?}: {e}");
        match key {
            "hot_polls" => value.parse().map(Self::HotPolls).map_err(|e| bad(&e)),
            "warm_interval_us" => value.parse().map(Self::WarmIntervalUs).map_err(|e| bad(&e)),
            "direct_orders" => value.parse().map(Self::DirectOrders).map_err(|e| bad(&e)),
            _ => Err(format!(
                "unknown setting {key:?} (hot_polls, warm_interval_us, direct_orders)"
            )),
        }
    }

    /// `args` with the change made: what the B rounds run.
    pub(super) fn apply(self, args: &T2tArgs) -> T2tArgs {
        let mut b = args.clone();
        match self {
            Self::HotPolls(n) => b.hot_polls = Some(n),
            Self::WarmIntervalUs(us) => b.warm_interval_us = Some(us),
            Self::DirectOrders(on) => b.no_direct_orders = !on,
        }
        b
    }

    fn text(self) -> String {
        match self {
            Self::HotPolls(n) => format!("threads.hot_polls = {n}"),
            Self::WarmIntervalUs(us) => format!("threads.warm_interval_us = {us}"),
            Self::DirectOrders(on) => format!("threads.direct_orders = {on}"),
        }
    }
}

/// The percentiles kept per round: name and quantile.
const QUANTILES: [(&str, f64); 2] = [("p50", 0.5), ("p99", 0.99)];

/// One round: its side (0 = A, 1 = B) and, per `QUANTILES` entry, its values (ns; 0 =
/// no sample), the stages in `STAGES` order, then the `QUIET` ones, then `FLOOR`.
#[derive(Debug, Clone)]
struct Round {
    side: usize,
    at: [Vec<u64>; QUANTILES.len()],
}

/// Every round's p50s and p99s: their ratios to the round's own floor, and with
/// `--ab` the comparison of the two sides.
pub(super) struct Rounds {
    change: Option<AbChange>,
    rounds: Vec<Round>,
}

impl Rounds {
    /// Rounds all as configured (`None`), or alternating A and B.
    pub(super) fn new(change: Option<AbChange>) -> Self {
        Self {
            change,
            rounds: Vec::new(),
        }
    }

    /// Keeps one round's p50s and p99s.
    pub(super) fn record(
        &mut self,
        side: usize,
        out: &RoundOutput,
        floor: &Histogram<u64>,
        clock: &Clock,
        interval_ns: u64,
    ) {
        // The stages as measured (`Stages::raw`), then the quiet ones, then the floor.
        let mut stages = Stages::new();
        for t in &out.ticks {
            stages.record(t, clock, interval_ns);
        }
        let mut hists = stages.raw;
        hists.extend(QUIET.map(|_| latency_histogram()));
        let ns = |a: u64, b: u64| clock.ticks_to_ns(b.saturating_sub(a)).max(1);
        for t in out.quiet.iter().filter(|t| t.core_recv != 0) {
            hists[STAGES.len()].saturating_record(ns(t.order_send, t.core_recv));
            hists[STAGES.len() + 1].saturating_record(ns(t.core_recv, t.algo_ack));
        }
        hists.push(floor.clone());
        let at = QUANTILES.map(|(_, q)| {
            hists
                .iter()
                .map(|h| {
                    if h.is_empty() {
                        0
                    } else {
                        h.value_at_quantile(q)
                    }
                })
                .collect()
        });
        self.rounds.push(Round { side, at });
    }

    /// `--ab`: prints the paired differences and returns them as the JSON `ab` object.
    pub(super) fn report_ab(&self) -> Option<serde_json::Value> {
        let change = self.change?;
        let mut out = serde_json::Map::new();
        for (q, (name, _)) in QUANTILES.iter().enumerate() {
            let cmp = compare(&self.rounds, q);
            if q == 0 {
                println!(
                    "--ab: A = as configured (even rounds), B = {} (odd rounds); {} pairs of \
                     neighbouring rounds, {} with their tick_to_algo p50s within \
                     {SAME_PLACEMENT_NS} ns",
                    change.text(),
                    cmp.pairs,
                    cmp.same_placement
                );
                out.insert("pairs".into(), cmp.pairs.into());
                out.insert("pairs_same_placement".into(), cmp.same_placement.into());
            }
            println!(
                "{:<22} {:>8} {:>8} {:>9} {:>8} {:>7}",
                format!("{name} per round, ns"),
                "A med",
                "B med",
                "B-A med",
                "B lower",
                "higher"
            );
            for s in &cmp.stages {
                println!(
                    "{:<22} {:>8} {:>8} {:>+9} {:>8} {:>7}",
                    s.name, s.a_median, s.b_median, s.diff_median, s.b_lower, s.b_higher
                );
            }
            out.insert((*name).into(), stages_json(&cmp.stages));
        }
        let columns: Vec<&str> = columns().collect();
        let rounds: Vec<_> = self
            .rounds
            .iter()
            .map(|r| {
                let mut round = serde_json::Map::new();
                round.insert("side".into(), if r.side == 0 { "A" } else { "B" }.into());
                for ((name, _), values) in QUANTILES.iter().zip(&r.at) {
                    round.insert(format!("{name}_ns"), json!(values));
                }
                round
            })
            .collect();
        out.insert("b".into(), change.text().into());
        out.insert(
            "what".into(),
            "even rounds A (as configured), odd rounds B; pairs of neighbouring rounds whose \
             tick_to_algo p50s are within same_placement_ns, their p50s and p99s compared; \
             the tables and ratios above are A's rounds only"
                .into(),
        );
        out.insert("same_placement_ns".into(), SAME_PLACEMENT_NS.into());
        out.insert("columns".into(), json!(columns));
        out.insert("rounds".into(), rounds.into());
        Some(out.into())
    }

    /// Over the A rounds (all rounds without `--ab`): the median, least and greatest
    /// of each round's `stage` p50 divided by its own floor's p50 (`None`: no round
    /// has both).
    pub(super) fn ratio_to_floor(&self, stage: &str) -> Option<Spread> {
        let i = columns().position(|c| c == stage)?;
        let floor = columns().position(|c| c == FLOOR)?;
        let mut v: Vec<f64> = self
            .rounds
            .iter()
            .filter(|r| r.side == 0 && r.at[0][i] > 0 && r.at[0][floor] > 0)
            .map(|r| r.at[0][i] as f64 / r.at[0][floor] as f64)
            .collect();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = match n {
            0 => return None,
            n if n % 2 == 1 => v[n / 2],
            n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
        };
        Some(Spread {
            median,
            min: v[0],
            max: v[n - 1],
            rounds: n,
        })
    }

    /// The JSON `by_round` object: the per-round ratios and the A rounds' p50s they
    /// come from.
    pub(super) fn by_round_json(&self) -> serde_json::Value {
        let shown = ["floor", "tick_to_algo", "t2t", "ack_rtt"];
        let idx: Vec<usize> = shown
            .iter()
            .filter_map(|s| columns().position(|c| c == *s))
            .collect();
        let rounds: Vec<Vec<u64>> = self
            .rounds
            .iter()
            .filter(|r| r.side == 0)
            .map(|r| idx.iter().map(|&i| r.at[0][i]).collect())
            .collect();
        let spread = |stage| self.ratio_to_floor(stage).map(Spread::json);
        json!({
            "what": "each round's p50 over the floor's p50 measured at the start of the same \
                     round, median (least, greatest) over the rounds; A's rounds with --ab",
            "t2t_p50_vs_floor": spread("t2t"),
            "ack_rtt_p50_vs_floor": spread("ack_rtt"),
            "columns_p50_ns": shown,
            "rounds": rounds,
        })
    }
}

/// A ratio's median, least and greatest value over some rounds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
    pub rounds: usize,
}

impl Spread {
    fn json(self) -> serde_json::Value {
        let r = |x: f64| (x * 1000.0).round() / 1000.0;
        json!({"median": r(self.median), "min": r(self.min), "max": r(self.max), "rounds": self.rounds})
    }
}

/// One percentile's comparison as JSON, by stage.
fn stages_json(stages: &[StageCmp]) -> serde_json::Value {
    stages
        .iter()
        .map(|s| {
            let v = json!({
                "pairs": s.pairs,
                "a_median_ns": s.a_median,
                "b_median_ns": s.b_median,
                "b_minus_a_median_ns": s.diff_median,
                "b_lower": s.b_lower,
                "b_higher": s.b_higher,
            });
            (s.name.to_string(), v)
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// One stage's paired values of one percentile.
#[derive(Debug, PartialEq, Eq)]
struct StageCmp {
    name: &'static str,
    pairs: usize,
    a_median: i64,
    b_median: i64,
    /// The median of the pairs' differences (not the difference of the medians).
    diff_median: i64,
    b_lower: usize,
    b_higher: usize,
}

#[derive(Debug)]
struct Comparison {
    pairs: usize,
    same_placement: usize,
    stages: Vec<StageCmp>,
}

/// Pairs rounds 2k (A) and 2k + 1 (B) and compares percentile `q` (a `QUANTILES`
/// index) over the pairs of the same placement (by their `tick_to_algo` p50s).
fn compare(rounds: &[Round], q: usize) -> Comparison {
    let tta = STAGES
        .iter()
        .position(|s| s.0 == "tick_to_algo")
        .expect("a stage");
    let pairs: Vec<(&Round, &Round)> = rounds
        .chunks_exact(2)
        .filter(|c| c[0].side == 0 && c[1].side == 1)
        .map(|c| (&c[0], &c[1]))
        .collect();
    let same_placement = |a: &Round, b: &Round| {
        let (a, b) = (a.at[0][tta], b.at[0][tta]);
        a > 0 && b > 0 && a.abs_diff(b) <= SAME_PLACEMENT_NS
    };
    let kept: Vec<(&[u64], &[u64])> = pairs
        .iter()
        .filter(|(a, b)| same_placement(a, b))
        .map(|(a, b)| (&a.at[q][..], &b.at[q][..]))
        .collect();
    let stages = columns()
        .enumerate()
        .filter_map(|(i, name)| {
            let rows: Vec<(i64, i64)> = kept
                .iter()
                .filter(|(a, b)| a[i] > 0 && b[i] > 0)
                .map(|(a, b)| (a[i] as i64, b[i] as i64))
                .collect();
            (!rows.is_empty()).then(|| StageCmp {
                name,
                pairs: rows.len(),
                a_median: median(rows.iter().map(|r| r.0)),
                b_median: median(rows.iter().map(|r| r.1)),
                diff_median: median(rows.iter().map(|r| r.1 - r.0)),
                b_lower: rows.iter().filter(|r| r.1 < r.0).count(),
                b_higher: rows.iter().filter(|r| r.1 > r.0).count(),
            })
        })
        .collect();
    Comparison {
        pairs: pairs.len(),
        same_placement: kept.len(),
        stages,
    }
}

/// A round's columns: `STAGES`, `QUIET`, `FLOOR`.
fn columns() -> impl Iterator<Item = &'static str> {
    STAGES.iter().map(|s| s.0).chain(QUIET).chain([FLOOR])
}

/// The median (the mean of the middle two for an even count).
fn median(values: impl Iterator<Item = i64>) -> i64 {
    let mut v: Vec<i64> = values.collect();
    v.sort_unstable();
    match v.len() {
        0 => 0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_parse_and_bad_ones_are_named() {
        assert_eq!(AbChange::parse("hot_polls=0"), Ok(AbChange::HotPolls(0)));
        assert_eq!(
            AbChange::parse(" warm_interval_us = 5"),
            Ok(AbChange::WarmIntervalUs(5))
        );
        assert_eq!(
            AbChange::parse("direct_orders=false"),
            Ok(AbChange::DirectOrders(false))
        );
        assert!(
            AbChange::parse("hot_polls")
                .unwrap_err()
                .contains("KEY=VALUE")
        );
        assert!(
            AbChange::parse("hot_polls=-1")
                .unwrap_err()
                .contains("hot_polls")
        );
        assert!(
            AbChange::parse("idle=spin")
                .unwrap_err()
                .contains("unknown setting")
        );
    }

    /// A round whose stages' p50s all read `v`, except `tick_to_algo` = `tta`, and
    /// whose p99s are ten times its p50s.
    fn round(side: usize, v: u64, tta: u64) -> Round {
        let mut p50 = vec![v; columns().count()];
        p50[3] = tta;
        let p99 = p50.iter().map(|v| v * 10).collect();
        Round {
            side,
            at: [p50, p99],
        }
    }

    #[test]
    fn pairs_of_another_placement_are_left_out() {
        assert_eq!(STAGES[3].0, "tick_to_algo");
        let rounds = [
            round(0, 200, 90),
            round(1, 180, 95), // B 20 lower
            round(0, 300, 250),
            round(1, 150, 90), // placement changed: left out
            round(0, 200, 100),
            round(1, 210, 100), // B 10 higher
            round(0, 200, 100),
            round(1, 170, 110), // B 30 lower
            round(0, 999, 100), // no B: no pair
        ];
        let c = compare(&rounds, 0);
        assert_eq!((c.pairs, c.same_placement), (4, 3));
        let o2c = c.stages.iter().find(|s| s.name == "order_to_core").unwrap();
        assert_eq!(
            (o2c.pairs, o2c.a_median, o2c.b_median, o2c.diff_median),
            (3, 200, 180, -20)
        );
        assert_eq!((o2c.b_lower, o2c.b_higher), (2, 1));
        assert!(c.stages.iter().any(|s| s.name == "core_to_ack_quiet"));
        assert!(c.stages.iter().any(|s| s.name == "floor"));
        // The p99s: the same pairs (placement still by the p50s), their own values.
        let c = compare(&rounds, 1);
        assert_eq!((c.pairs, c.same_placement), (4, 3));
        let o2c = c.stages.iter().find(|s| s.name == "order_to_core").unwrap();
        assert_eq!(
            (o2c.pairs, o2c.a_median, o2c.b_median, o2c.diff_median),
            (3, 2000, 1800, -200)
        );
    }

    #[test]
    fn ratios_to_each_rounds_own_floor() {
        let floor = columns().position(|c| c == FLOOR).unwrap();
        let t2t = columns().position(|c| c == "t2t").unwrap();
        let mut r = Rounds::new(None);
        for (v, f) in [(200, 100), (300, 100), (900, 600), (0, 100), (150, 0)] {
            let mut round = round(0, 0, 0);
            (round.at[0][t2t], round.at[0][floor]) = (v, f);
            r.rounds.push(round);
        }
        // 2.0, 3.0, 1.5; the rounds without a t2t or a floor left out.
        let s = r.ratio_to_floor("t2t").unwrap();
        assert_eq!((s.median, s.min, s.max, s.rounds), (2.0, 1.5, 3.0, 3));
        // With --ab only A's rounds count.
        r.rounds[1].side = 1;
        let s = r.ratio_to_floor("t2t").unwrap();
        assert_eq!((s.median, s.rounds), (1.75, 2));
        assert!(r.ratio_to_floor("ack_rtt").is_none());
        assert!(r.report_ab().is_none());
    }

    #[test]
    fn medians() {
        assert_eq!(median([3, 1, 2].into_iter()), 2);
        assert_eq!(median([4, 1, 2, 3].into_iter()), 2);
        assert_eq!(median(std::iter::empty()), 0);
    }
}
