//! Records the compiler and commit a binary was built from, for benchmark reports.

use std::process::Command;

fn output(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    println!(
        "cargo:rustc-env=TICKGATE_RUSTC={}",
        output(&rustc, &["--version"])
    );
    let mut commit = output("git", &["rev-parse", "--short=12", "HEAD"]);
    let status = output("git", &["status", "--porcelain", "--untracked-files=no"]);
    if commit != "unknown" && !status.is_empty() {
        commit.push_str("-dirty");
    }
    println!("cargo:rustc-env=TICKGATE_COMMIT={commit}");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    println!("cargo:rerun-if-changed=.git/index");
}
