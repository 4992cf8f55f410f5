//! The real `tickgate serve` binary as a child process: start-up, the address and
//! session it prints, the state hash its recovery logs, SIGTERM or SIGKILL, and
//! `tickgate journal replay` of the same files.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// A running `tickgate serve --config F --journal-dir D` (killed when dropped).
pub struct ServeProcess {
    pub child: Child,
    pub addr: SocketAddr,
    /// The SoupBinTCP session name of the day (the journal's day directory).
    pub session: String,
    /// The state hash logged after recovery.
    pub state_hash: String,
    /// The server's stderr lines. Kept open: a server whose stderr reader is gone
    /// panics on its next log line.
    pub log: mpsc::Receiver<String>,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServeProcess {
    /// Starts the binary and waits for its start-up line and its recovery line.
    pub fn start(config: &Path, journal: &Path) -> ServeProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tickgate"))
            .args(["serve", "--config"])
            .arg(config)
            .arg("--journal-dir")
            .arg(journal)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("serve starts");
        let (tx, rx) = mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("start-up line");
        let words: Vec<&str> = line.split_whitespace().collect();
        let addr = words
            .iter()
            .find_map(|w| w.parse::<SocketAddr>().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        let session = words
            .iter()
            .position(|w| *w == "session")
            .and_then(|i| words.get(i + 1))
            .map(|w| w.trim_end_matches(',').to_string())
            .unwrap_or_else(|| panic!("no session in {line:?}"));
        let state_hash = rx
            .recv_timeout(Duration::from_secs(10))
            .into_iter()
            .chain(rx.try_iter())
            .find_map(|l| hash_in(&l))
            .unwrap_or_else(|| panic!("no recovery line with a state hash"));
        ServeProcess {
            child,
            addr,
            session,
            state_hash,
            log: rx,
        }
    }

    /// SIGTERM, and a clean exit (End of Session, drain, exit 0).
    pub fn stop(mut self) {
        let pid = self.child.id() as i32;
        // SAFETY: kill(2) on our own child's pid has no memory-safety preconditions.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let status = self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let log: Vec<String> = self.log.try_iter().collect();
        assert!(status.success(), "{status:?}: {}", log.join("\n"));
    }
}

/// The hash in a "… state hash 0x…" line.
pub fn hash_in(line: &str) -> Option<String> {
    let at = line.find("state hash ")?;
    line[at + 11..]
        .split_whitespace()
        .next()
        .map(str::to_string)
}

/// What `tickgate journal replay` prints for the day directory `dir`.
pub fn offline_state_hash(config: &Path, dir: &Path) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tickgate"))
        .args(["journal", "replay", "--config"])
        .arg(config)
        .arg("--dir")
        .arg(dir)
        .output()
        .expect("journal replay runs");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(hash_in)
        .unwrap_or_else(|| panic!("no state hash in {text}"))
}
