//! The result of a tuning audit: one [`Item`] per checked property, each PASS, WARN or
//! FAIL with what was seen and, when not PASS, the fix.

use std::fmt::{self, Write as _};
use std::path::PathBuf;

use serde::Serialize;

/// The verdict on one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The host is tuned for this item.
    Pass,
    /// Could not tell (a file is missing), or a soft recommendation is not followed.
    Warn,
    /// The host is not tuned for this item: expect latency outliers it would prevent.
    Fail,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Pass => "PASS",
            Self::Warn => "WARN",
            Self::Fail => "FAIL",
        })
    }
}

/// One audited property of the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    /// A stable key, e.g. `isolated` or `thp` (used by tests and in JSON).
    pub name: &'static str,
    /// The verdict.
    pub status: Status,
    /// What was seen on the host.
    pub detail: String,
    /// What to do about it; `None` for PASS.
    pub fix: Option<String>,
}

impl Item {
    /// A PASS with what was seen.
    pub fn pass(name: &'static str, detail: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Pass,
            detail: detail.into(),
            fix: None,
        }
    }

    /// A WARN with what was seen and the fix.
    pub fn warn(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Warn,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    /// A FAIL with what was seen and the fix.
    pub fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            name,
            status: Status::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// The whole audit, in a fixed item order.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The directory /proc and /sys were read under (`/` on the real host).
    pub root: PathBuf,
    /// The configured hot (spinning) CPUs the audit checked against.
    pub hot_cpus: Vec<usize>,
    /// The configured housekeeping CPUs.
    pub housekeeping_cpus: Vec<usize>,
    /// One entry per checked property.
    pub items: Vec<Item>,
}

impl Report {
    /// How many items have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.items.iter().filter(|i| i.status == status).count()
    }

    /// Whether any item failed (what `--strict` refuses to start on).
    pub fn has_fail(&self) -> bool {
        self.count(Status::Fail) > 0
    }

    /// The item named `name`, if it was checked.
    pub fn item(&self, name: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.name == name)
    }

    /// One line for a start-up log: counts, then the names of the failed and warned
    /// items, e.g. `tune check: 9 pass, 2 warn, 1 fail (fail: irqs; warn: governor, ksm)`.
    pub fn summary(&self) -> String {
        let names = |s: Status| -> Vec<&str> {
            self.items
                .iter()
                .filter(|i| i.status == s)
                .map(|i| i.name)
                .collect()
        };
        let mut line = format!(
            "tune check: {} pass, {} warn, {} fail",
            self.count(Status::Pass),
            self.count(Status::Warn),
            self.count(Status::Fail)
        );
        let (fails, warns) = (names(Status::Fail), names(Status::Warn));
        if !fails.is_empty() || !warns.is_empty() {
            let mut parts = Vec::new();
            if !fails.is_empty() {
                parts.push(format!("fail: {}", fails.join(", ")));
            }
            if !warns.is_empty() {
                parts.push(format!("warn: {}", warns.join(", ")));
            }
            let _ = write!(line, " ({})", parts.join("; "));
        }
        line
    }

    /// The human-readable report: a header, one line per item (with its fix indented
    /// below), and the summary.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "tickgate tune check: hot cpus [{}], housekeeping cpus [{}], root {}\n",
            super::host::format_cpulist(&self.hot_cpus),
            super::host::format_cpulist(&self.housekeeping_cpus),
            self.root.display()
        );
        for item in &self.items {
            let _ = writeln!(out, "{}  {:<15} {}", item.status, item.name, item.detail);
            if let Some(fix) = &item.fix {
                let _ = writeln!(out, "      {:<15} fix: {fix}", "");
            }
        }
        out.push_str(&self.summary());
        out.push('\n');
        out
    }

    /// The report as one JSON object (one line).
    pub fn to_json(&self) -> String {
        let value = serde_json::json!({
            "root": self.root,
            "hot_cpus": self.hot_cpus,
            "housekeeping_cpus": self.housekeeping_cpus,
            "pass": self.count(Status::Pass),
            "warn": self.count(Status::Warn),
            "fail": self.count(Status::Fail),
            "summary": self.summary(),
            "items": self.items,
        });
        value.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(items: Vec<Item>) -> Report {
        Report {
            root: "/".into(),
            hot_cpus: vec![1],
            housekeeping_cpus: vec![0],
            items,
        }
    }

    #[test]
    fn summary_names_failed_and_warned_items() {
        let r = report(vec![
            Item::pass("thp", "never"),
            Item::fail("irqs", "irq 5 on cpu 1", "move it"),
            Item::warn("ksm", "run = 1", "echo 0"),
        ]);
        assert_eq!(
            r.summary(),
            "tune check: 1 pass, 1 warn, 1 fail (fail: irqs; warn: ksm)"
        );
        assert!(r.has_fail());
    }

    #[test]
    fn all_pass_summary_has_no_parenthesis() {
        let r = report(vec![Item::pass("thp", "never")]);
        assert_eq!(r.summary(), "tune check: 1 pass, 0 warn, 0 fail");
        assert!(!r.has_fail());
    }

    #[test]
    fn json_is_one_line_with_lowercase_statuses() {
        let r = report(vec![Item::warn("swap", "x", "y")]);
        let json = r.to_json();
        assert!(!json.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["items"][0]["status"], "warn");
        assert_eq!(v["warn"], 1);
    }
}
