//! `tickgate latency` reads another process's latency board read-only.

use std::process::Command;

use tickgate::clock::Clock;
use tickgate::ipc::latency::LatencyBoard;

#[test]
fn latency_command_prints_each_recording_session_as_json_and_hgrm() {
    let dir = std::env::temp_dir().join(format!("tickgate-latency-cmd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("board");
    let board =
        LatencyBoard::create(&path, &["ALGO1", "ALGO2", "ALGO3"], Clock::monotonic()).unwrap();
    for ns in 1..=1000 {
        board.record_ns(2, ns * 10);
    }
    board.unknown_trigger(0);
    let out = Command::new(env!("CARGO_BIN_EXE_tickgate"))
        .args(["latency", "--json", "--board"])
        .arg(&path)
        .arg("--hgrm")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    let sessions = v["sessions"].as_array().unwrap();
    // Session 1 recorded nothing and is left out without --all.
    assert_eq!(sessions.len(), 2);
    assert_eq!(sessions[0]["username"], "ALGO1");
    assert_eq!(sessions[0]["unknown_trigger"], 1);
    assert_eq!(sessions[1]["username"], "ALGO3");
    assert_eq!(sessions[1]["count"], 1000);
    assert_eq!(sessions[1]["max_ns"], 10_000);
    let p50 = sessions[1]["p50_ns"].as_u64().unwrap();
    assert!((4990..=5010).contains(&p50), "p50 {p50}");
    assert!(dir.join("latency-ALGO3.hgrm").exists());

    let table = Command::new(env!("CARGO_BIN_EXE_tickgate"))
        .args(["latency", "--all", "--board"])
        .arg(&path)
        .output()
        .unwrap();
    let table = String::from_utf8(table.stdout).unwrap();
    assert_eq!(table.lines().filter(|l| l.contains("ALGO")).count(), 3);
    drop(board);
    let missing = Command::new(env!("CARGO_BIN_EXE_tickgate"))
        .args(["latency", "--board"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!missing.status.success());
    let _ = std::fs::remove_dir_all(&dir);
}
