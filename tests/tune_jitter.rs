//! `tickgate bench jitter`: a short run on a real CPU gives a sane report. Correctness
//! only — no timing thresholds (this machine is shared and untuned).

use std::process::Command;
use std::time::Duration;

use tickgate::affinity::available_cpus;
use tickgate::clock::Clock;
use tickgate::tune::jitter::{QUANTILES, measure};

#[test]
fn short_run_reports_ordered_percentiles_and_worst_gaps() {
    let clock = Clock::calibrate(Duration::from_millis(20));
    let cpu = *available_cpus().last().unwrap();
    let run = measure(cpu, clock, Duration::from_millis(50), Duration::ZERO, 5).unwrap();
    assert_eq!(run.cpu, cpu);
    assert!(
        run.hist.len() > 100,
        "the loop ran {} times",
        run.hist.len()
    );
    assert!(
        run.elapsed_ns >= 50_000_000,
        "stopped early: {} ns",
        run.elapsed_ns
    );
    let mut prev = run.floor_ns();
    for (label, q) in QUANTILES {
        let v = run.hist.value_at_quantile(q);
        assert!(v >= prev, "{label} {v} < {prev}");
        prev = v;
    }
    assert!(run.hist.max() >= prev);
    assert_eq!(run.worst.len(), 5);
    assert!(run.worst.windows(2).all(|w| w[0].gap_ns >= w[1].gap_ns));
    // The longest gap is the histogram's maximum (within its 3-digit precision).
    assert!(run.hist.equivalent(run.worst[0].gap_ns, run.hist.max()));
    assert!(run.worst.iter().all(|g| g.at_ms >= 0.0 && g.at_ms <= 60.0));
}

#[test]
fn pinning_to_a_missing_cpu_is_an_error_naming_the_cpus() {
    let clock = Clock::monotonic();
    let err = measure(100_000, clock, Duration::from_millis(1), Duration::ZERO, 1).unwrap_err();
    assert!(err.to_string().contains("available"), "{err}");
}

#[test]
fn binary_json_is_the_last_line() {
    let cpu = available_cpus()[0].to_string();
    let dir = std::env::temp_dir().join(format!("tickgate-jitter-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_tickgate"))
        .args([
            "bench",
            "jitter",
            "--json",
            "--seconds",
            "0.05",
            "--warmup-ms",
            "0",
        ])
        .args([
            "--cpu",
            &cpu,
            "--worst",
            "3",
            "--hgrm",
            dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let last = text.lines().last().unwrap();
    let json: serde_json::Value = serde_json::from_str(last).unwrap();
    let run = &json["cpus"][0];
    assert_eq!(run["cpu"].to_string(), cpu);
    assert!(run["floor_ns"].as_u64().unwrap() <= run["p50_ns"].as_u64().unwrap());
    assert!(run["p9999_x_floor"].as_f64().unwrap() >= 1.0);
    assert_eq!(run["worst"].as_array().unwrap().len(), 3);
    let hgrm = std::fs::read_to_string(dir.join(format!("jitter-cpu{cpu}.hgrm"))).unwrap();
    assert!(hgrm.contains("#[Max"), "{hgrm}");
    std::fs::remove_dir_all(&dir).unwrap();
}
