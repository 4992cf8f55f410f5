//! Audit items about the whole host: clock source, TSC, memory management and limits.

use super::Audit;
use super::report::Item;

const MIB: u64 = 1 << 20;

/// Bytes of one SPSC ring in the estimate: 4096 slots of 64 bytes (one cache line per
/// OUCH command) — an upper bound until the rings are sized in the config.
pub const SPSC_RING_ESTIMATE_BYTES: u64 = 4096 * 64;
/// Shared-memory session slots in the estimate, each with an order and a response ring.
pub const SESSION_SLOTS_ESTIMATE: u64 = 64;
/// Gateway threads in the estimate, each with a ring to and from the core.
pub const GATEWAY_THREADS_ESTIMATE: u64 = 8;
/// Bytes of the market-data broadcast ring in the estimate.
pub const BROADCAST_RING_ESTIMATE_BYTES: u64 = 64 * MIB;
/// What `mlockall` also locks besides the rings: binary, heap, thread stacks, books.
pub const PROCESS_HEADROOM_ESTIMATE_BYTES: u64 = 64 * MIB;

/// The documented estimate of ring memory: session rings + gateway rings + the
/// market-data broadcast ring (≈ 100 MiB). Replace with the configured sizes once the
/// rings are sized in the config.
pub const fn ring_memory_estimate_bytes() -> u64 {
    let rings = 2 * (SESSION_SLOTS_ESTIMATE + GATEWAY_THREADS_ESTIMATE);
    rings * SPSC_RING_ESTIMATE_BYTES + BROADCAST_RING_ESTIMATE_BYTES
}

/// The memory tickgate locks: the rings, plus the whole process when `lock_memory`.
pub const fn locked_memory_estimate_bytes(lock_memory: bool) -> u64 {
    let headroom = if lock_memory {
        PROCESS_HEADROOM_ESTIMATE_BYTES
    } else {
        0
    };
    ring_memory_estimate_bytes() + headroom
}

/// All the host-wide items, in report order.
pub(super) fn items(a: &Audit) -> Vec<Item> {
    vec![
        clocksource(a),
        invariant_tsc(a),
        thp(a),
        memlock(a),
        swap(a),
        numa_balancing(a),
        ksm(a),
        hugepages(a),
    ]
}

fn clocksource(a: &Audit) -> Item {
    let dir = "/sys/devices/system/clocksource/clocksource0";
    let fix = format!(
        "echo tsc > {dir}/current_clocksource; if the kernel marked the TSC unstable, \
         see dmesg and fix the BIOS/hypervisor (invariant TSC) first"
    );
    match a.host.read_trimmed(&format!("{dir}/current_clocksource")) {
        Err(e) => Item::warn("clocksource", e.to_string(), fix),
        Ok(cs) if cs == "tsc" => Item::pass("clocksource", "tsc"),
        Ok(cs) => {
            let available = a.host.read_trimmed(&format!("{dir}/available_clocksource"));
            let available = available.unwrap_or_default();
            let detail = format!("{cs} (available: {available}): every clock read is slower");
            Item::fail("clocksource", detail, fix)
        }
    }
}

fn invariant_tsc(a: &Audit) -> Item {
    let fix = "use a CPU/BIOS with an invariant TSC; a VM must expose it (KVM: -cpu host,+invtsc)";
    match a.host.read("/proc/cpuinfo") {
        Err(e) => Item::warn("invariant_tsc", e.to_string(), fix),
        Ok(text) if crate::clock::cpuinfo_has_invariant_tsc(&text) => {
            Item::pass("invariant_tsc", "constant_tsc and nonstop_tsc")
        }
        Ok(_) => Item::fail(
            "invariant_tsc",
            "cpuinfo lacks constant_tsc or nonstop_tsc: TSC timestamps are not trustworthy",
            fix,
        ),
    }
}

/// The bracketed choice of a sysfs selector such as `always [madvise] never`.
fn selected(text: &str) -> Option<&str> {
    let start = text.find('[')? + 1;
    let end = start + text[start..].find(']')?;
    Some(&text[start..end])
}

fn thp(a: &Audit) -> Item {
    let dir = "/sys/kernel/mm/transparent_hugepage";
    let fix = format!(
        "{} (sets THP to never); boot with transparent_hugepage=never",
        a.apply_hint()
    );
    let Ok(text) = a.host.read(&format!("{dir}/enabled")) else {
        return Item::warn("thp", format!("cannot read {dir}/enabled"), fix);
    };
    let defrag = a.host.read(&format!("{dir}/defrag")).ok();
    let defrag = defrag
        .as_deref()
        .and_then(selected)
        .unwrap_or("?")
        .to_string();
    let detail = format!(
        "enabled = {}, defrag = {defrag}",
        selected(&text).unwrap_or("?")
    );
    match selected(&text) {
        Some("never") => Item::pass("thp", detail),
        Some("madvise") => Item::warn("thp", detail + ": khugepaged still compacts", fix),
        _ => Item::fail("thp", detail + ": page faults may stall on compaction", fix),
    }
}

/// The soft `Max locked memory` limit of a `/proc/<pid>/limits` text (`None` = unlimited).
fn memlock_limit(limits: &str) -> Option<Option<u64>> {
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max locked memory"))?;
    let soft = line
        .trim_start_matches("Max locked memory")
        .split_whitespace()
        .next()?;
    if soft == "unlimited" {
        return Some(None);
    }
    soft.parse().ok().map(Some)
}

fn memlock(a: &Audit) -> Item {
    let need = locked_memory_estimate_bytes(a.lock_memory);
    let fix = "LimitMEMLOCK=infinity (tuning/tickgate.service), or `ulimit -l unlimited` / \
               memlock in /etc/security/limits.conf";
    let limit = a.host.read("/proc/self/limits").ok();
    let Some(limit) = limit.as_deref().and_then(memlock_limit) else {
        return Item::warn(
            "memlock",
            "cannot read Max locked memory in /proc/self/limits",
            fix,
        );
    };
    let Some(limit) = limit else {
        return Item::pass(
            "memlock",
            format!("unlimited (estimate needs {} MiB)", need / MIB),
        );
    };
    let detail = format!(
        "{} MiB, estimate needs {} MiB (rings ≈ {} MiB{})",
        limit / MIB,
        need / MIB,
        ring_memory_estimate_bytes() / MIB,
        if a.lock_memory {
            " + mlockall headroom"
        } else {
            ""
        }
    );
    match (limit >= need, a.lock_memory) {
        (true, _) => Item::pass("memlock", detail),
        (false, true) => Item::fail("memlock", detail + ": mlockall will fail", fix),
        (false, false) => Item::warn("memlock", detail + " (threads.lock_memory is off)", fix),
    }
}

fn swap(a: &Audit) -> Item {
    let fix = "swapoff -a and remove the swap entries from /etc/fstab";
    let Ok(swaps) = a.host.read("/proc/swaps") else {
        return Item::warn("swap", "cannot read /proc/swaps", fix);
    };
    let devices: Vec<&str> = (swaps.lines().skip(1))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let swappiness = a.host.read_trimmed("/proc/sys/vm/swappiness");
    let swappiness = swappiness.unwrap_or_else(|_| "?".into());
    if devices.is_empty() {
        return Item::pass("swap", format!("no swap (swappiness {swappiness})"));
    }
    let detail = format!("swap on {} (swappiness {swappiness})", devices.join(", "));
    let why = if a.lock_memory {
        ": locked pages stay, but reclaim and swap I/O stall the host"
    } else {
        ": an unlocked hot page can be swapped out"
    };
    Item::fail("swap", detail + why, fix)
}

/// A WARN-level item for a `/proc` or `/sys` knob that should read `want`.
fn knob(a: &Audit, name: &'static str, path: &str, want: &str, why: &str) -> Item {
    let fix = format!("{} (echo {want} > {path})", a.apply_hint());
    match a.host.read_trimmed(path) {
        Err(e) => Item::warn(name, e.to_string(), fix),
        Ok(v) if v == want => Item::pass(name, v),
        Ok(v) => Item::warn(name, format!("{v}: {why}"), fix),
    }
}

fn numa_balancing(a: &Audit) -> Item {
    let why = "hinting page faults on hot threads' memory";
    knob(
        a,
        "numa_balancing",
        "/proc/sys/kernel/numa_balancing",
        "0",
        why,
    )
}

fn ksm(a: &Audit) -> Item {
    let why = "ksmd scans and may merge (copy-on-write) pages";
    knob(a, "ksm", "/sys/kernel/mm/ksm/run", "0", why)
}

/// `HugePages_Total` and `HugePages_Free` of a `/proc/meminfo` text.
fn hugepage_counts(meminfo: &str) -> Option<(u64, u64)> {
    let field = |key: &str| -> Option<u64> {
        let line = meminfo.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].split_whitespace().next()?.parse().ok()
    };
    Some((field("HugePages_Total:")?, field("HugePages_Free:")?))
}

fn hugepages(a: &Audit) -> Item {
    let pages = ring_memory_estimate_bytes().div_ceil(2 * MIB);
    let fix = format!(
        "{} --hugepages {pages} (2 MiB pages for the rings)",
        a.apply_hint()
    );
    let meminfo = a.host.read("/proc/meminfo").ok();
    let Some((total, free)) = meminfo.as_deref().and_then(hugepage_counts) else {
        return Item::warn("hugepages", "cannot read HugePages_* in /proc/meminfo", fix);
    };
    if total == 0 {
        let detail = "none reserved: rings use 4 KiB pages (more TLB misses)";
        return Item::warn("hugepages", detail, fix);
    }
    Item::pass("hugepages", format!("{total} reserved, {free} free"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selector_reads_the_bracketed_choice() {
        assert_eq!(selected("always [madvise] never\n"), Some("madvise"));
        assert_eq!(selected("always madvise never"), None);
    }

    #[test]
    fn memlock_limit_parses_unlimited_and_bytes() {
        let limits = "Limit  Soft Limit  Hard Limit  Units\n\
                      Max locked memory         8388608   8388608   bytes\n";
        assert_eq!(memlock_limit(limits), Some(Some(8_388_608)));
        let unlimited = "Max locked memory  unlimited  unlimited  bytes\n";
        assert_eq!(memlock_limit(unlimited), Some(None));
    }

    #[test]
    fn ring_estimate_is_about_100_mib() {
        assert_eq!(ring_memory_estimate_bytes() / MIB, 100);
    }
}
