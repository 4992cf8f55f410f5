//! `tickgate tune check` against fake /proc and /sys trees, an empty tree and this host.

use std::path::{Path, PathBuf};
use std::process::Command;

use tickgate::config::Config;
use tickgate::tune::{Report, Status, check, kernel_cmdline};

const ITEMS: [&str; 16] = [
    "cpus",
    "isolated",
    "nohz_full",
    "rcu_nocbs",
    "irqs",
    "smt",
    "governor",
    "cstates",
    "clocksource",
    "invariant_tsc",
    "thp",
    "memlock",
    "swap",
    "numa_balancing",
    "ksm",
    "hugepages",
];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tune")
}

fn plan() -> Config {
    Config::load(Some(&fixtures().join("plan.toml"))).expect("fixture plan parses")
}

fn status_of(report: &Report, name: &str) -> Status {
    report
        .item(name)
        .unwrap_or_else(|| panic!("no item {name}"))
        .status
}

fn assert_items_in_order(report: &Report) {
    let names: Vec<&str> = report.items.iter().map(|i| i.name).collect();
    assert_eq!(names, ITEMS);
}

#[test]
fn tuned_host_passes_every_item() {
    let report = check(&plan(), &fixtures().join("tuned"));
    assert_items_in_order(&report);
    for item in &report.items {
        assert_eq!(item.status, Status::Pass, "{item:?}");
        assert!(item.fix.is_none());
    }
    assert_eq!(report.summary(), "tune check: 16 pass, 0 warn, 0 fail");
}

#[test]
fn untuned_host_fails_each_core_plan_item_with_a_fix() {
    let report = check(&plan(), &fixtures().join("untuned"));
    assert_items_in_order(&report);
    assert_eq!(status_of(&report, "cpus"), Status::Pass);
    for name in ["numa_balancing", "ksm", "hugepages"] {
        assert_eq!(status_of(&report, name), Status::Warn, "{name}");
    }
    for name in &ITEMS[1..13] {
        assert_eq!(status_of(&report, name), Status::Fail, "{name}");
        assert!(
            report.item(name).unwrap().fix.is_some(),
            "{name} has no fix"
        );
    }
    assert!(report.has_fail());
}

#[test]
fn untuned_details_name_the_offenders() {
    let report = check(&plan(), &fixtures().join("untuned"));
    let irqs = &report.item("irqs").unwrap().detail;
    assert!(irqs.contains("24(eth0-rx-0)→2"), "{irqs}");
    assert!(irqs.contains("25(nvme0q1)→3"), "{irqs}");
    assert!(!irqs.contains("26("), "{irqs}");
    assert!(irqs.contains("default_smp_affinity"), "{irqs}");
    let cstates = &report.item("cstates").unwrap().detail;
    assert!(
        cstates.contains("C6 (170 µs)") && !cstates.contains("POLL"),
        "{cstates}"
    );
    let fix = report.item("isolated").unwrap().fix.clone().unwrap();
    assert!(fix.contains("isolcpus=managed_irq,domain,2-3"), "{fix}");
}

#[test]
fn housekeeping_on_a_hot_cpus_sibling_fails_smt() {
    let text = std::fs::read_to_string(fixtures().join("plan.toml")).unwrap();
    let config = Config::parse(&text.replace("publisher_cpu = 1", "publisher_cpu = 6")).unwrap();
    let report = check(&config, &fixtures().join("tuned"));
    let smt = report.item("smt").unwrap();
    assert_eq!(smt.status, Status::Fail);
    assert!(smt.detail.contains("housekeeping cpu 6"), "{}", smt.detail);
}

#[test]
fn empty_and_missing_trees_warn_on_every_item() {
    let empty = std::env::temp_dir().join(format!("tickgate-tune-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    for root in [empty.clone(), empty.join("does-not-exist")] {
        let report = check(&plan(), &root);
        assert_items_in_order(&report);
        for item in &report.items {
            assert_eq!(item.status, Status::Warn, "{item:?}");
            assert!(item.fix.is_some(), "{item:?}");
        }
    }
    std::fs::remove_dir_all(&empty).unwrap();
}

#[test]
fn this_host_gets_a_status_and_detail_for_every_item() {
    // This VM is not tuned: only assert the report is complete, never that it passes.
    let report = check(&Config::embedded(), Path::new("/"));
    assert_items_in_order(&report);
    for item in &report.items {
        assert!(!item.detail.is_empty(), "{item:?}");
        assert_eq!(item.fix.is_none(), item.status == Status::Pass, "{item:?}");
    }
}

fn tickgate(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tickgate"))
        .args(args)
        .output()
        .expect("tickgate runs")
}

#[test]
fn binary_prints_one_line_per_item_and_a_summary() {
    let out = tickgate(&["tune", "check"]);
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with(' ')).collect();
    assert!(
        lines[0].starts_with("tickgate tune check: hot cpus ["),
        "{text}"
    );
    for (line, name) in lines[1..].iter().zip(ITEMS) {
        let status = &line[..4];
        assert!(["PASS", "WARN", "FAIL"].contains(&status), "{line}");
        assert_eq!(line[6..].split_whitespace().next(), Some(name), "{line}");
    }
    assert!(lines[ITEMS.len() + 1].starts_with("tune check: "), "{text}");
}

#[test]
fn binary_json_and_strict_exit_codes() {
    let root = fixtures().join("untuned");
    let (root, plan) = (root.to_str().unwrap(), fixtures().join("plan.toml"));
    let plan = plan.to_str().unwrap();
    let base = ["tune", "check", "--root", root, "--config", plan];
    let out = tickgate(&[&base[..], &["--json"]].concat());
    assert!(
        out.status.success(),
        "a FAIL without --strict still exits 0"
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["items"].as_array().unwrap().len(), ITEMS.len());
    assert_eq!(json["fail"], 12);
    let strict = tickgate(&[&base[..], &["--strict"]].concat());
    assert_eq!(strict.status.code(), Some(1));
    let tuned = fixtures().join("tuned");
    let tuned_args = ["tune", "check", "--strict", "--config", plan, "--root"];
    let ok = tickgate(&[&tuned_args[..], &[tuned.to_str().unwrap()]].concat());
    assert!(ok.status.success(), "{ok:?}");
}

#[test]
fn binary_rejects_a_missing_root_with_the_fix() {
    let out = tickgate(&["tune", "check", "--root", "/nonexistent/tickgate-root"]);
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("is not a directory"), "{err}");
}

#[test]
fn cmdline_script_prints_the_line_the_audit_suggests() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tuning/cmdline.sh");
    let args = ["--hot-cpus", "2-3", "--housekeeping-cpus", "0-1", "--line"];
    let Ok(out) = Command::new("bash").arg(&script).args(args).output() else {
        eprintln!("skipped: no bash on this host");
        return;
    };
    assert!(out.status.success(), "{out:?}");
    let line = String::from_utf8(out.stdout).unwrap();
    assert_eq!(line.trim(), kernel_cmdline(&[2, 3], &[0, 1]));
}
