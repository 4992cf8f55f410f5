//! The real binary: `tickgate serve --config FILE`, SIGTERM → End of Session, exit 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tickgate::client::{Client, ClientError, Event, LoginParams};
use tickgate::config::DEFAULT_TOML;

#[test]
fn sigterm_sends_end_of_session_and_exits_zero() {
    let dir = std::env::temp_dir().join(format!("tickgate-sigterm-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("serve.toml");
    let text = DEFAULT_TOML
        .replace("listen = \"127.0.0.1:15000\"", "listen = \"127.0.0.1:0\"")
        .replace(
            "replay_bytes_per_session = 67108864",
            "replay_bytes_per_session = 1048576",
        )
        .replace("max_orders = 1048576", "max_orders = 65536")
        .replace("retransmit_port = 15002", "retransmit_port = 0")
        .replace(
            "name = \"tickgate\"",
            &format!("name = \"tickgate-sigterm-{}\"", std::process::id()),
        );
    std::fs::write(&path, text).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_tickgate"))
        .args(["serve", "--config"])
        .arg(&path)
        .arg("--journal-dir")
        .arg(dir.join("journal"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split_whitespace()
        .find_map(|w| w.parse::<std::net::SocketAddr>().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    let mut c = Client::connect(addr, &LoginParams::new("DEMO1", "secret")).unwrap();
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let got = loop {
        match c.recv_event() {
            Ok(Event::Heartbeat) => {}
            other => break other,
        }
    };
    assert!(matches!(got, Ok(Event::EndOfSession)), "{got:?}");
    assert!(matches!(
        c.recv_event(),
        Err(ClientError::Closed | ClientError::Io(_))
    ));
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("serve did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
