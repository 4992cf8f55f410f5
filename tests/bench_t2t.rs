//! `tickgate bench tick-to-trade` in CI mode produces its table, files and JSON for
//! both transports. Correctness of the harness only: nothing here asserts timing.

use std::path::Path;
use std::process::Command;

fn run(transport: &str, out: &Path) -> serde_json::Value {
    run_with(transport, &[], out)
}

fn run_with(transport: &str, extra: &[&str], out: &Path) -> serde_json::Value {
    let _ = std::fs::remove_dir_all(out);
    let o = Command::new(env!("CARGO_BIN_EXE_tickgate"))
        .args([
            "bench",
            "tick-to-trade",
            "--ci",
            "--json",
            "--transport",
            transport,
        ])
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(
        o.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout.contains("floor"), "{stdout}");
    serde_json::from_str(stdout.lines().last().unwrap()).unwrap()
}

/// A percentile summary with samples, ordered percentiles and a positive median.
fn assert_sane(p: &serde_json::Value, what: &str) {
    let get = |k: &str| {
        p[k].as_u64()
            .unwrap_or_else(|| panic!("{what}: no {k} in {p}"))
    };
    assert!(get("count") > 0, "{what}: {p}");
    assert!(get("p50_ns") > 0, "{what}: {p}");
    let ordered = [
        "p50_ns", "p90_ns", "p99_ns", "p999_ns", "p9999_ns", "max_ns",
    ];
    assert!(
        ordered.windows(2).all(|w| get(w[0]) <= get(w[1])),
        "{what}: {p}"
    );
}

fn two_cpus() -> bool {
    let ok = tickgate::affinity::available_cpus().len() >= 2;
    if !ok {
        eprintln!("skipped: the benchmark pins two CPUs");
    }
    ok
}

#[test]
fn tcp_tick_to_trade_writes_hgrm_svg_and_json() {
    if !two_cpus() {
        return;
    }
    let out = std::env::temp_dir().join(format!("tickgate-t2t-tcp-{}", std::process::id()));
    let v = run("tcp", &out);
    assert_eq!(v["transport"], "tcp");
    assert!(v["stages"]["ack_rtt"]["ns"]["count"].as_u64().unwrap() > 0);
    assert!(v["stages"]["t2t_algo"]["ns"]["p50_ns"].as_u64().unwrap() > 0);
    assert!(v["ratios"]["ack_rtt_p50_vs_floor"].as_f64().unwrap() > 0.0);
    // Over TCP the server's read is not stamped: t2t is a shared-memory figure.
    assert!(v["ratios"]["t2t_p50_vs_floor"].is_null());
    // The sparse floor is measured for both transports, the slot echo for shm only.
    assert_sane(&v["peers"]["floor_sparse"]["ns"], "floor_sparse");
    assert!(v["peers"]["ack_echo"].is_null());
    assert!(v["ratios"]["floor_sparse_p50_vs_floor"].as_f64().unwrap() > 0.0);
    assert!(v["ratios"]["ack_echo_p50_vs_floor"].is_null());
    for f in [
        "t2t-tcp-floor.hgrm",
        "t2t-tcp-ack_rtt.hgrm",
        "t2t-tcp.svg",
        "t2t-tcp.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let svg = std::fs::read_to_string(out.join("t2t-tcp.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("ack_rtt"));
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn shm_tick_to_trade_with_an_algo_process_writes_hgrm_svg_and_json() {
    if !two_cpus() {
        return;
    }
    let out = std::env::temp_dir().join(format!("tickgate-t2t-shm-{}", std::process::id()));
    let v = run("shm", &out);
    assert_eq!(v["transport"], "shm");
    // By default the ticks come from a second session of the algo process.
    assert_eq!(v["tick_source"], "algo-process");
    // Every stage is stamped over shared memory, the server's read included.
    for stage in [
        "t2t",
        "ack_rtt",
        "tick_to_algo",
        "order_to_core",
        "core_to_ack",
    ] {
        assert!(
            v["stages"][stage]["ns"]["count"].as_u64().unwrap() > 0,
            "{stage}"
        );
    }
    for ratio in [
        "t2t_p50_vs_floor",
        "t2t_p999_vs_floor",
        "ack_rtt_p50_vs_floor",
    ] {
        assert!(v["ratios"][ratio].as_f64().unwrap() > 0.0, "{ratio}");
    }
    assert!(v["quiet"]["ack_rtt"]["count"].as_u64().unwrap() > 0);
    // Each round against its own floor: one row of p50s per round, the ratios'
    // medians between their least and greatest.
    let by_round = &v["by_round"];
    let rounds = by_round["rounds"].as_array().unwrap();
    assert_eq!(rounds.len() as u64, v["rounds"].as_u64().unwrap());
    for r in rounds {
        let r: Vec<u64> = r
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect();
        assert!(r.len() == 4 && r.iter().all(|&ns| ns > 0), "{r:?}");
    }
    for ratio in ["t2t_p50_vs_floor", "ack_rtt_p50_vs_floor"] {
        let s = &by_round[ratio];
        let (lo, mid, hi) = (
            s["min"].as_f64().unwrap(),
            s["median"].as_f64().unwrap(),
            s["max"].as_f64().unwrap(),
        );
        assert!(0.0 < lo && lo <= mid && mid <= hi, "{ratio}: {s}");
        assert_eq!(
            v["ratios"][format!("{ratio}_by_round")].as_f64(),
            Some(mid),
            "{ratio}"
        );
    }
    // The sparse floor and the slot echo (the order -> ack transport alone).
    // And the floor with its lines demoted, as the rings demote their commit lines.
    for peer in [
        "floor_sparse",
        "floor_demote",
        "ack_echo",
        "ack_echo_sparse",
    ] {
        assert_sane(&v["peers"][peer]["ns"], peer);
    }
    for peer in ["floor_sparse", "ack_echo_sparse"] {
        assert_sane(&v["peers"][peer]["uncorrected_ns"], peer);
    }
    assert_eq!(v["peers"]["sparse_interval_us"], 50);
    // The echo's records are the real ones' sizes: an order fits the ring slot's
    // first line with the slot's 8-byte header, an Accepted-sized answer does not.
    let bytes = &v["peers"]["echo_record_bytes"];
    assert!(8 + bytes["order"].as_u64().unwrap() <= 64, "{bytes}");
    assert!(8 + bytes["answer"].as_u64().unwrap() > 64, "{bytes}");
    for ratio in [
        "ack_echo_p50_vs_floor",
        "ack_rtt_p50_vs_ack_echo",
        "ack_rtt_quiet_p50_vs_ack_echo",
        "floor_sparse_p50_vs_floor",
        "floor_sparse_p999_vs_floor_p999",
        "t2t_p999_vs_floor_sparse_p999",
        "floor_demote_p50_vs_floor",
        "t2t_p50_vs_floor_demote",
        "ack_rtt_p50_vs_floor_demote",
    ] {
        assert!(v["ratios"][ratio].as_f64().unwrap() > 0.0, "{ratio}");
    }
    for f in [
        "t2t-shm-floor.hgrm",
        "t2t-shm-t2t.hgrm",
        "t2t-shm-floor_sparse.hgrm",
        "t2t-shm-floor_demote.hgrm",
        "t2t-shm-ack_echo.hgrm",
        "t2t-shm-ack_echo_sparse.hgrm",
        "t2t-shm.svg",
        "t2t-shm.json",
    ] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn shm_tick_to_trade_with_a_tick_thread_answers_every_tick() {
    if !two_cpus() {
        return;
    }
    let out = std::env::temp_dir().join(format!("tickgate-t2t-thread-{}", std::process::id()));
    let v = run_with("shm", &["--tick-source", "thread"], &out);
    assert_eq!(v["tick_source"], "thread");
    assert_eq!(v["tick_cpu"], 1, "by default the server's CPU");
    for stage in ["t2t", "tick_to_algo", "order_to_core"] {
        assert!(
            v["stages"][stage]["ns"]["count"].as_u64().unwrap() > 0,
            "{stage}"
        );
    }
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn shm_tick_to_trade_alternates_the_server_round_by_round_with_ab() {
    if !two_cpus() {
        return;
    }
    let out = std::env::temp_dir().join(format!("tickgate-t2t-ab-{}", std::process::id()));
    let v = run_with("shm", &["--ab", "hot_polls=0"], &out);
    // `--ci` runs two rounds: A (as configured), then B.
    assert_eq!(v["server_hot_polls"], 32, "A is the default configuration");
    let ab = &v["ab"];
    assert_eq!(ab["b"], "threads.hot_polls = 0");
    assert_eq!(ab["pairs"], 1);
    let rounds = ab["rounds"].as_array().unwrap();
    let sides: Vec<&str> = rounds.iter().map(|r| r["side"].as_str().unwrap()).collect();
    assert_eq!(sides, ["A", "B"]);
    let columns: Vec<&str> = ab["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    let o2c = columns.iter().position(|&c| c == "order_to_core").unwrap();
    for r in rounds {
        let p50 = r["p50_ns"].as_array().unwrap();
        let p99 = r["p99_ns"].as_array().unwrap();
        assert_eq!((p50.len(), p99.len()), (columns.len(), columns.len()));
        let (p50, p99) = (p50[o2c].as_u64().unwrap(), p99[o2c].as_u64().unwrap());
        assert!(p50 > 0 && p99 >= p50, "{r}");
    }
    // The table is A's round alone.
    assert!(
        v["stages"]["order_to_core"]["ns"]["count"]
            .as_u64()
            .unwrap()
            > 0
    );
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn an_unknown_ab_setting_is_refused_by_name() {
    let o = Command::new(env!("CARGO_BIN_EXE_tickgate"))
        .args(["bench", "tick-to-trade", "--ab", "idle=spin"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("unknown setting \"idle\""), "{err}");
}
