//! One journal directory, one server: a second `serve` on the same journal directory
//! is refused before it reads, repairs or removes anything there (it would take the
//! live writer's tail for a torn one), and the first server's journal is untouched.
//! Once the first server has stopped, the directory can be taken again.

mod serve_support;

use serve_support::*;
use tickgate::proto::ouch::{Price, Side, Symbol};
use tickgate::server::StartOptions;

/// Every file of `dir`: (name, length, FNV-1a of the bytes), sorted; a file renamed
/// away while this reads is left out (the next snapshot differs).
fn snapshot(dir: &std::path::Path) -> Vec<(String, usize, u64)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(e.path()).ok()?;
            let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
            Some((name, bytes.len(), hash))
        })
        .collect();
    files.sort();
    files
}

/// The snapshot once the server's segment preparer is done (its next segment is
/// created under a temporary name and renamed in the background): no temporary file,
/// and nothing changing over 20 ms.
fn settled(dir: &std::path::Path) -> Vec<(String, usize, u64)> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let a = snapshot(dir);
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = snapshot(dir);
        let temp = b.iter().any(|(name, ..)| name.contains(".tmp-"));
        if a == b && !temp {
            return b;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "journal never settled: {b:?}"
        );
    }
}

#[test]
fn a_second_server_on_a_live_journal_is_refused_and_changes_nothing() {
    let base = journal_base();
    let _guard = DirGuard(base.clone());
    let cfg = config(0);
    let first = server_at(cfg.clone(), &base, StartOptions::default()).expect("first server");
    let mut a = login(&first, "DEMO1");
    a.enter_order(Side::Buy, 100, Symbol::padded("AAPL"), Price(1_900_000))
        .unwrap();
    expect(&mut a, b'A');
    let day = base.join(String::from_utf8_lossy(first.session_name.trimmed()).as_ref());
    let before = settled(&day);
    assert!(
        before.iter().any(|(name, ..)| name.starts_with("seg-")),
        "{:?}",
        before.iter().map(|f| &f.0).collect::<Vec<_>>()
    );

    // Another ipc name, another port: only the journal directory is shared.
    let mut other = cfg.clone();
    other.ipc.name = ipc_name();
    let err = server_at(other.clone(), &base, StartOptions::default())
        .expect_err("a second server on the same journal directory");
    let msg = err.to_string();
    assert!(msg.contains("in use by another tickgate"), "{msg}");
    assert!(msg.contains(&std::process::id().to_string()), "{msg}");
    assert_eq!(snapshot(&day), before, "the live journal was touched");

    // The first server still journals and answers.
    a.enter_order(Side::Buy, 100, Symbol::padded("AAPL"), Price(1_890_000))
        .unwrap();
    expect(&mut a, b'A');
    let f = first.stop_and_join().unwrap();
    drop(a);
    assert_eq!(f.core.journaled, f.core.commands);

    // Stopped: the directory is free, and the day replays.
    let again = server_at(other, &base, StartOptions::default()).expect("restart");
    let b = login_from(&again, "DEMO1", 1);
    drop(b);
    again.stop_and_join().unwrap();
}
