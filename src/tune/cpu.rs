//! Audit items about the hot CPUs: isolation, tick, RCU, IRQs, SMT siblings, frequency
//! governor and C-states.

use super::Audit;
use super::host::{cmdline_value, format_cpulist, isolcpus_cpus, parse_cpulist, parse_cpumask};
use super::report::Item;

const CPU_DIR: &str = "/sys/devices/system/cpu";

/// The files of `/proc/irq/N/`; any other entry is a directory named after a handler.
const IRQ_FILES: [&str; 7] = [
    "affinity_hint",
    "effective_affinity",
    "effective_affinity_list",
    "node",
    "smp_affinity",
    "smp_affinity_list",
    "spurious",
];

/// Deepest idle-state exit latency a hot CPU may enter: POLL (0) and C1 (1–2 µs) are
/// fine, C1E (≈10 µs) and deeper states add their exit latency to the next wake-up.
pub const MAX_EXIT_LATENCY_US: u64 = 2;

/// All the CPU items, in report order.
pub(super) fn items(a: &Audit) -> Vec<Item> {
    vec![
        online(a),
        isolated(a),
        nohz_full(a),
        rcu_nocbs(a),
        irqs(a),
        smt(a),
        governor(a),
        cstates(a),
    ]
}

/// The hot CPUs not in `set`.
fn missing_from(hot: &[usize], set: &[usize]) -> Vec<usize> {
    hot.iter().copied().filter(|c| !set.contains(c)).collect()
}

/// PASS when every hot CPU is in `set`, else FAIL with `fix`.
fn hot_cpus_in(a: &Audit, name: &'static str, set: &[usize], source: &str, fix: String) -> Item {
    let missing = missing_from(&a.hot, set);
    let seen = format!("{source}: [{}]", format_cpulist(set));
    if missing.is_empty() {
        Item::pass(
            name,
            format!("hot cpus [{}] in {seen}", format_cpulist(&a.hot)),
        )
    } else {
        let detail = format!("hot cpus [{}] not in {seen}", format_cpulist(&missing));
        Item::fail(name, detail, fix)
    }
}

fn online(a: &Audit) -> Item {
    let name = "cpus";
    match a.host.read(&format!("{CPU_DIR}/online")) {
        Err(e) => Item::warn(name, e.to_string(), "check that the configured CPUs exist"),
        Ok(text) => {
            let online = parse_cpulist(&text).unwrap_or_default();
            let fix = format!(
                "the config names CPUs this host does not have online; fix threads.*_cpu \
                 (online: [{}])",
                format_cpulist(&online)
            );
            hot_cpus_in(a, name, &online, "online", fix)
        }
    }
}

/// The CPUs in `isolcpus` (from sysfs, else the command line).
pub(super) fn isolated_set(a: &Audit) -> Result<(Vec<usize>, &'static str), String> {
    if let Ok(text) = a.host.read(&format!("{CPU_DIR}/isolated")) {
        return Ok((parse_cpulist(&text).unwrap_or_default(), "isolated"));
    }
    let cmdline = a.cmdline.as_ref().map_err(|e| e.to_string())?;
    let cpus = cmdline_value(cmdline, "isolcpus").and_then(isolcpus_cpus);
    Ok((cpus.unwrap_or_default(), "cmdline isolcpus"))
}

fn isolated(a: &Audit) -> Item {
    let fix = format!(
        "boot with isolcpus=managed_irq,domain,{} ({})",
        a.hot_list(),
        a.cmdline_hint()
    );
    match isolated_set(a) {
        Ok((set, source)) => hot_cpus_in(a, "isolated", &set, source, fix),
        Err(e) => Item::warn("isolated", e, fix),
    }
}

/// The `nohz_full` CPUs (from sysfs, else the command line) and where they came from.
fn nohz_set(a: &Audit) -> Result<(Vec<usize>, &'static str), String> {
    if let Ok(text) = a.host.read(&format!("{CPU_DIR}/nohz_full")) {
        return Ok((parse_cpulist(&text).unwrap_or_default(), "nohz_full"));
    }
    let cmdline = a.cmdline.as_ref().map_err(|e| e.to_string())?;
    let cpus = cmdline_value(cmdline, "nohz_full").and_then(parse_cpulist);
    Ok((
        cpus.unwrap_or_default(),
        "cmdline nohz_full (no sysfs nohz_full file)",
    ))
}

fn nohz_full(a: &Audit) -> Item {
    let fix = format!(
        "boot with nohz_full={} (kernel with CONFIG_NO_HZ_FULL; {})",
        a.hot_list(),
        a.cmdline_hint()
    );
    match nohz_set(a) {
        Ok((set, source)) => hot_cpus_in(a, "nohz_full", &set, source, fix),
        Err(e) => Item::warn("nohz_full", e, fix),
    }
}

fn rcu_nocbs(a: &Audit) -> Item {
    let fix = format!(
        "boot with rcu_nocbs={} rcu_nocb_poll ({})",
        a.hot_list(),
        a.cmdline_hint()
    );
    let Ok(cmdline) = a.cmdline.as_ref() else {
        return Item::warn("rcu_nocbs", "cannot read /proc/cmdline", fix);
    };
    let mut set = match cmdline_value(cmdline, "rcu_nocbs") {
        Some("all") => a.hot.clone(),
        Some(v) => parse_cpulist(v).unwrap_or_default(),
        None => Vec::new(),
    };
    // nohz_full CPUs are offloaded too (rcu_init_nohz adds them to the nocb mask).
    set.extend(nohz_set(a).map(|(s, _)| s).unwrap_or_default());
    set.sort_unstable();
    set.dedup();
    hot_cpus_in(a, "rcu_nocbs", &set, "cmdline rcu_nocbs ∪ nohz_full", fix)
}

/// The CPUs IRQ `irq` may fire on (effective affinity when the kernel reports it).
fn irq_cpus(a: &Audit, irq: &str) -> Option<Vec<usize>> {
    ["effective_affinity_list", "smp_affinity_list"]
        .iter()
        .find_map(|f| a.host.read(&format!("/proc/irq/{irq}/{f}")).ok())
        .and_then(|t| parse_cpulist(&t))
        .filter(|cpus| !cpus.is_empty())
}

/// The IRQs that may fire on a hot CPU, as `irq(handler)→cpus` strings.
fn irqs_on_hot_cpus(a: &Audit, irqs: &[String]) -> Vec<String> {
    let mut offenders = Vec::new();
    for irq in irqs {
        let Some(cpus) = irq_cpus(a, irq) else {
            continue;
        };
        let hot: Vec<usize> = cpus.into_iter().filter(|c| a.hot.contains(c)).collect();
        if hot.is_empty() {
            continue;
        }
        let entries = a.host.list_dir(&format!("/proc/irq/{irq}"));
        let handler = entries.iter().find(|n| !IRQ_FILES.contains(&n.as_str()));
        let label = handler
            .map(|h| format!("{irq}({h})"))
            .unwrap_or(irq.clone());
        offenders.push(format!("{label}→{}", format_cpulist(&hot)));
    }
    offenders
}

/// `default_smp_affinity→cpus` when IRQs created from now on may land on a hot CPU.
fn default_affinity_on_hot_cpus(a: &Audit) -> Option<String> {
    let text = a.host.read("/proc/irq/default_smp_affinity").ok()?;
    let cpus = parse_cpumask(&text)?;
    let on_hot = cpus.iter().any(|c| a.hot.contains(c));
    on_hot.then(|| format!("default_smp_affinity→{}", format_cpulist(&cpus)))
}

fn irqs(a: &Audit) -> Item {
    let fix = format!(
        "{} (moves IRQs to the housekeeping cpus and bans the hot cpus in irqbalance); \
         boot with irqaffinity={} isolcpus=managed_irq,… ({})",
        a.apply_hint(),
        a.housekeeping_list(),
        a.cmdline_hint()
    );
    let irqs: Vec<String> = (a.host.list_dir("/proc/irq").into_iter())
        .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    if irqs.is_empty() {
        return Item::warn("irqs", "cannot list /proc/irq", fix);
    }
    let offenders = irqs_on_hot_cpus(a, &irqs);
    let default = default_affinity_on_hot_cpus(a);
    if offenders.is_empty() && default.is_none() {
        let detail = format!("none of {} IRQs may fire on a hot cpu", irqs.len());
        return Item::pass("irqs", detail);
    }
    let shown: Vec<&str> = offenders.iter().take(8).map(String::as_str).collect();
    let mut detail = format!(
        "{} of {} IRQs may fire on a hot cpu:",
        offenders.len(),
        irqs.len()
    );
    for label in &shown {
        detail.push(' ');
        detail.push_str(label);
    }
    if offenders.len() > shown.len() {
        detail.push_str(&format!(" and {} more", offenders.len() - shown.len()));
    }
    if let Some(d) = default {
        detail.push_str(&format!("; {d}"));
    }
    Item::fail("irqs", detail, fix)
}

/// Why `sibling` (an SMT sibling of hot CPU `cpu`) is not idle, or `None` when it is.
fn busy_sibling(a: &Audit, cpu: usize, sibling: usize, isolated: &[usize]) -> Option<String> {
    if a.hot.contains(&sibling) {
        return Some(format!(
            "hot cpus {cpu} and {sibling} are SMT siblings of one core"
        ));
    }
    if a.housekeeping.contains(&sibling) {
        return Some(format!(
            "housekeeping cpu {sibling} is the SMT sibling of hot cpu {cpu}"
        ));
    }
    let online = a
        .host
        .read_trimmed(&format!("{CPU_DIR}/cpu{sibling}/online"));
    if online.as_deref() == Ok("0") || isolated.contains(&sibling) {
        return None;
    }
    Some(format!(
        "sibling {sibling} of hot cpu {cpu} is online and not isolated"
    ))
}

fn smt(a: &Audit) -> Item {
    let fix = "disable SMT (BIOS, or `echo off > /sys/devices/system/cpu/smt/control`), or \
               keep each hot cpu's sibling idle: out of the plan and in isolcpus";
    let isolated = isolated_set(a).map(|(s, _)| s).unwrap_or_default();
    let (mut problems, mut shared) = (Vec::new(), 0);
    for &cpu in &a.hot {
        let path = format!("{CPU_DIR}/cpu{cpu}/topology/thread_siblings_list");
        let Some(siblings) = a.host.read(&path).ok().and_then(|t| parse_cpulist(&t)) else {
            return Item::warn("smt", format!("cannot read {path}"), fix);
        };
        for sibling in siblings.into_iter().filter(|&s| s != cpu) {
            shared += 1;
            problems.extend(busy_sibling(a, cpu, sibling, &isolated));
        }
    }
    match (problems.is_empty(), shared) {
        (true, 0) => Item::pass("smt", "hot cpus have no SMT siblings"),
        (true, _) => Item::pass("smt", "SMT siblings of hot cpus are offline or isolated"),
        (false, _) => Item::fail("smt", problems.join("; "), fix),
    }
}

fn governor(a: &Audit) -> Item {
    let fix = format!("{} (sets scaling_governor = performance)", a.apply_hint());
    let (mut seen, mut missing) = (Vec::new(), Vec::new());
    for &cpu in &a.hot {
        match a
            .host
            .read_trimmed(&format!("{CPU_DIR}/cpu{cpu}/cpufreq/scaling_governor"))
        {
            Ok(g) => seen.push((cpu, g)),
            Err(_) => missing.push(cpu),
        }
    }
    let bad: Vec<String> = (seen.iter().filter(|(_, g)| g != "performance"))
        .map(|(c, g)| format!("cpu {c}: {g}"))
        .collect();
    if !bad.is_empty() {
        return Item::fail("governor", bad.join(", "), fix);
    }
    if !missing.is_empty() {
        let detail = format!(
            "no cpufreq for cpus [{}] (a VM, or frequency under firmware control)",
            format_cpulist(&missing)
        );
        let fix = "set the BIOS power profile to maximum performance (no OS governor here)";
        return Item::warn("governor", detail, fix);
    }
    Item::pass("governor", "performance on every hot cpu")
}

/// The enabled idle states of `cpu` deeper than [`MAX_EXIT_LATENCY_US`], and how many
/// states the CPU has.
fn deep_states(a: &Audit, cpu: usize) -> (Vec<String>, usize) {
    let dir = format!("{CPU_DIR}/cpu{cpu}/cpuidle");
    let states: Vec<String> = (a.host.list_dir(&dir).into_iter())
        .filter(|s| s.starts_with("state"))
        .collect();
    let mut deep = Vec::new();
    for s in &states {
        let read = |f: &str| a.host.read_trimmed(&format!("{dir}/{s}/{f}")).ok();
        let latency = read("latency")
            .and_then(|l| l.parse::<u64>().ok())
            .unwrap_or(0);
        let disabled = read("disable").as_deref() == Some("1");
        if latency > MAX_EXIT_LATENCY_US && !disabled {
            let name = read("name").unwrap_or_else(|| s.clone());
            deep.push(format!("cpu {cpu}: {name} ({latency} µs)"));
        }
    }
    (deep, states.len())
}

fn cstates(a: &Audit) -> Item {
    let fix = format!(
        "{} (disables idle states deeper than {MAX_EXIT_LATENCY_US} µs on the hot cpus and \
         holds /dev/cpu_dma_latency at 0), or limit C-states to C1 in the BIOS",
        a.apply_hint()
    );
    if let Ok(cmdline) = a.cmdline.as_ref()
        && cmdline_value(cmdline, "idle") == Some("poll")
    {
        return Item::pass("cstates", "idle=poll on the kernel command line");
    }
    let (mut deep, mut states) = (Vec::new(), 0);
    for &cpu in &a.hot {
        let (d, n) = deep_states(a, cpu);
        deep.extend(d);
        states += n;
    }
    let driver = a
        .host
        .read_trimmed(&format!("{CPU_DIR}/cpuidle/current_driver"));
    cstates_verdict(
        deep,
        states,
        &driver.unwrap_or_else(|_| "unknown".into()),
        fix,
    )
}

/// The C-state verdict from the deep states found, the number of states seen and the
/// cpuidle driver.
fn cstates_verdict(deep: Vec<String>, states: usize, driver: &str, fix: String) -> Item {
    if !deep.is_empty() {
        let detail = format!("enabled deep states: {}", deep.join(", "));
        return Item::fail("cstates", detail, fix);
    }
    if states == 0 {
        let detail = format!("no cpuidle states visible (driver {driver})");
        return Item::warn("cstates", detail, "limit C-states to C1 in the BIOS");
    }
    if driver == "haltpoll" {
        let detail = "guest (cpuidle driver haltpoll): the host's C-states are not visible";
        let fix = "ask the host to keep this VM's cores out of deep C-states";
        return Item::warn("cstates", detail, fix);
    }
    let detail = format!("no enabled state deeper than {MAX_EXIT_LATENCY_US} µs (driver {driver})");
    Item::pass("cstates", detail)
}
