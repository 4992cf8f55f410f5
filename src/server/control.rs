//! The local control channel: `tickgate admin kill|enable|status --account A` reaches
//! the running server through a Unix domain socket (mode 0600, removed at exit).
//!
//! A small non-hot thread (`tickgate-ctl`) serves one request at a time: it turns the
//! request into a [`Control`] command for the operator session
//! ([`CONTROL_SESSION`]) and pushes it onto its own SPSC ring, which the core polls like
//! the gateway's (so it is journaled and replayed like any input; the core never takes
//! a lock). The core's answer comes back through [`ControlReplies`]; the thread writes
//! one line back and closes the connection.
//!
//! Protocol (one line each way): `kill DEMO1` → `ok kill DEMO1 canceled=3 blocked=1`,
//! `enable DEMO1` → `ok enable DEMO1 open=0 blocked=0`, `status DEMO1` →
//! `ok status DEMO1 open=2 blocked=0`; anything else → `error …`.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::engine::Command;
use crate::engine::command::{CONTROL_BYTES, Control};
use crate::engine::core::ControlReplies;
use crate::engine::types::{CONTROL_SESSION, ControlAction};
use crate::ring::spsc;
use crate::session::INPUT_RECORD_BYTES;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Records of the control ring (one request is in flight at a time).
pub const CONTROL_RING_RECORDS: usize = 64;

/// How long a request waits for the core's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(5);

/// Binds the control socket at `path` (mode 0600). A socket file nobody answers on is
/// a leftover of a killed server and is replaced; a live one is an error.
pub fn bind(path: &Path) -> Result<UnixListener, Error> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("admin socket directory {}: {e}", dir.display()))?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(format!(
                "admin socket {} is served by another running tickgate; stop it or set \
                 admin.socket to another path",
                path.display()
            )
            .into());
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("removing the stale admin socket {}: {e}", path.display()))?;
    }
    let listener =
        UnixListener::bind(path).map_err(|e| format!("admin socket {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// What the control thread needs.
pub struct ControlChannel {
    /// The bound socket.
    pub listener: UnixListener,
    /// Its path (removed when the thread stops).
    pub path: PathBuf,
    /// The ring into the core.
    pub commands: spsc::Producer,
    /// The core's answers.
    pub replies: Arc<ControlReplies>,
    /// Account usernames by session id.
    pub accounts: Vec<String>,
}

/// Starts the control thread; it stops (and removes the socket) when `stop` is set.
pub fn spawn(
    mut ch: ControlChannel,
    cpu: Option<usize>,
    stop: Arc<AtomicBool>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("tickgate-ctl".into())
        .spawn(move || {
            // It sleeps and wakes every 10 ms while idle: never at a spinner's FIFO
            // priority (inherited from the starting thread under `chrt -f`).
            crate::ipc::watch::housekeeping_thread(cpu);
            let mut next_request = 1u32;
            while !stop.load(Ordering::Acquire) {
                match ch.listener.accept() {
                    Ok((stream, _)) => {
                        let _ = ch.serve(stream, next_request);
                        next_request = next_request.wrapping_add(1).max(1);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            let _ = std::fs::remove_file(&ch.path);
        })
}

impl ControlChannel {
    /// One request and its answer.
    fn serve(&mut self, stream: UnixStream, request: u32) -> std::io::Result<()> {
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        let mut line = String::new();
        BufReader::new((&stream).take(256)).read_line(&mut line)?;
        let answer = match self.parse(&line) {
            Ok((action, account, name)) => self.run(action, account, request, name),
            Err(e) => format!("error {e}"),
        };
        (&stream).write_all(format!("{answer}\n").as_bytes())
    }

    fn parse<'a>(&self, line: &'a str) -> Result<(ControlAction, u16, &'a str), String> {
        let mut words = line.split_whitespace();
        let (verb, name) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let action = match verb {
            "kill" => ControlAction::Kill,
            "enable" => ControlAction::Enable,
            "status" => ControlAction::Status,
            _ => {
                return Err(format!(
                    "unknown command {verb:?}: kill|enable|status ACCOUNT"
                ));
            }
        };
        let account = self
            .accounts
            .iter()
            .position(|a| a == name)
            .ok_or_else(|| format!("unknown account {name:?}"))?;
        Ok((action, account as u16, name))
    }

    fn run(&mut self, action: ControlAction, account: u16, request: u32, name: &str) -> String {
        let cmd = Command::Control(Control {
            ts_ns: crate::session::core_time_ns(),
            session: CONTROL_SESSION,
            user_ref_idx: 0,
            user_ref_num: 0,
            action,
            account,
            request,
            len: 0,
            bytes: [0; CONTROL_BYTES],
        });
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        while self
            .commands
            .try_write(INPUT_RECORD_BYTES, |buf| {
                crate::session::record::encode(&cmd, None, buf);
            })
            .is_err()
        {
            if Instant::now() > deadline {
                return "error the core is not taking commands".into();
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let result = loop {
            if let Some(r) = self.replies.result_of(request) {
                break r;
            }
            if Instant::now() > deadline {
                return "error no answer from the core within 5 s".into();
            }
            std::thread::sleep(Duration::from_micros(200));
        };
        let (blocked, count) = (result >> 32 & 1, result as u32);
        match action {
            ControlAction::Kill => format!("ok kill {name} canceled={count} blocked={blocked}"),
            ControlAction::Enable => format!("ok enable {name} open={count} blocked={blocked}"),
            _ => format!("ok status {name} open={count} blocked={blocked}"),
        }
    }
}

/// Sends one request line to the control socket at `path` and returns the answer line
/// (what `tickgate admin` prints).
pub fn request(path: &Path, line: &str) -> Result<String, Error> {
    let stream = UnixStream::connect(path).map_err(|e| {
        format!(
            "cannot reach the server's control socket {}: {e}; is `tickgate serve` running \
             with the same --config / --journal-dir?",
            path.display()
        )
    })?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT + Duration::from_secs(1)))?;
    (&stream).write_all(format!("{line}\n").as_bytes())?;
    let mut answer = String::new();
    BufReader::new(&stream).read_line(&mut answer)?;
    Ok(answer.trim_end().to_string())
}

/// Options of `tickgate admin kill|enable|status`.
#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// The account (SoupBinTCP username).
    #[arg(long)]
    pub account: String,
    /// The server's TOML configuration (finds the socket; the embedded default
    /// without it).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// The server's `--journal-dir`, if it was given one (the default socket lives
    /// there).
    #[arg(long)]
    pub journal_dir: Option<PathBuf>,
    /// The socket path itself (overrides the configuration).
    #[arg(long)]
    pub socket: Option<PathBuf>,
}

/// Runs `tickgate admin VERB --account A`: prints the server's answer; exit status 1
/// for an error answer.
pub fn run_admin(
    verb: &str,
    args: &AdminArgs,
) -> Result<std::process::ExitCode, Box<dyn std::error::Error>> {
    let path = match &args.socket {
        Some(p) => p.clone(),
        None => {
            let mut config = crate::config::Config::load(args.config.as_deref())?;
            if let Some(dir) = &args.journal_dir {
                config.journal.dir.clone_from(dir);
            }
            config
                .admin_socket()
                .ok_or("admin.enabled is false in this configuration: no control socket")?
        }
    };
    let answer = request(&path, &format!("{verb} {}", args.account)).map_err(|e| e.to_string())?;
    println!("{answer}");
    Ok(if answer.starts_with("ok ") {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::FAILURE
    })
}
