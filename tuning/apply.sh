#!/usr/bin/env bash
# Applies tickgate's low-latency runtime profile. Idempotent; revert with revert.sh.
#
# Usage: sudo tuning/apply.sh --hot-cpus LIST [--housekeeping-cpus LIST] [--iface NIC]
#          [--nic-ring N] [--hugepages N] [--dma-latency-us N] [--dry-run]
#          [--root DIR] [--state FILE]
#   --hot-cpus           CPUs of spinning threads (config: core_cpu + gateway_cpus)
#   --housekeeping-cpus  where IRQs and kernel work go (default: every other online CPU)
#   --iface              NIC whose coalescing and rings to set (default: none)
#   --nic-ring           RX/TX descriptors, capped at the NIC's maximum (default 4096)
#   --hugepages          2 MiB pages to reserve for the rings (default 50 = 100 MiB)
#   --dma-latency-us     PM QoS limit held on /dev/cpu_dma_latency (default 0)
#   --dry-run            print every command, change nothing
#   --root               act on a copy of /proc, /sys and /etc under DIR (tests)
#   --state              where previous values are saved (default /run/tickgate-tuning/state)
#
# Runtime settings do not survive a reboot: tuning/tickgate-tuning.service runs this at
# boot. The kernel command line is printed at the end, not applied (cmdline.sh).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tuning/lib.sh
. "$HERE/lib.sh"

usage() { sed -n '4,16p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

HOT=""; HK=""; IFACE=""; NIC_RING=4096; HUGEPAGES=50; DMA_LATENCY_US=0
while [ $# -gt 0 ]; do
  case $1 in
    --hot-cpus) HOT=${2:?}; shift 2 ;;
    --housekeeping-cpus) HK=${2:?}; shift 2 ;;
    --iface) IFACE=${2:?}; shift 2 ;;
    --nic-ring) NIC_RING=${2:?}; shift 2 ;;
    --hugepages) HUGEPAGES=${2:?}; shift 2 ;;
    --dma-latency-us) DMA_LATENCY_US=${2:?}; shift 2 ;;
    --dry-run) DRY_RUN=1; shift ;;
    --root) ROOT=${2:?}; shift 2 ;;
    --state) STATE=${2:?}; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "apply.sh: unknown option $1" >&2; usage 2 ;;
  esac
done
valid_cpulist "$HOT" || die "--hot-cpus LIST is required (e.g. 2-5); see tickgate tune check"
[ -n "$STATE" ] || STATE=$(default_state)
if [ -z "$HK" ]; then
  online=$(cat "$ROOT/sys/devices/system/cpu/online" 2>/dev/null || echo 0)
  hot=" $(expand_cpulist "$HOT") "
  HK=$(for c in $(expand_cpulist "$online"); do [[ $hot == *" $c "* ]] || echo "$c"; done | paste -sd,)
fi
valid_cpulist "$HK" || die "no housekeeping CPU left; give --housekeeping-cpus"
if [ "$DRY_RUN" = 0 ] && [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
  die "run as root (or with --dry-run to see the commands)"
fi
HK_MASK=$(cpulist_to_mask "$HK")
note "hot cpus $HOT, housekeeping cpus $HK (mask $HK_MASK), state $STATE$([ "$DRY_RUN" = 1 ] && echo ', dry run')"

# --- IRQ affinity: every device IRQ on the housekeeping CPUs.
# Buys: no interrupt handler ever runs on a hot core.
# Missing: each NIC/disk/timer-device IRQ on a hot core is a 1-20 µs gap, and softirq
# work it raises (network RX) can take far longer. Managed IRQs (NVMe queues) refuse
# the write; isolcpus=managed_irq keeps those away instead.
irq_affinity() {
  local dir
  for dir in "$ROOT"/proc/irq/[0-9]*; do
    [ -e "$dir/smp_affinity_list" ] || continue
    set_value "/proc/irq/${dir##*/}/smp_affinity_list" "$HK"
  done
  set_value /proc/irq/default_smp_affinity "$HK_MASK" mask
}

# --- irqbalance: keep running, but never on the hot CPUs.
# Buys: IRQs stay balanced across housekeeping CPUs without irqbalance moving them back
# onto hot cores. Missing: irqbalance undoes irq_affinity within 10 s.
# (irqbalance >= 1.8 also skips isolcpus/nohz_full CPUs by itself; EnvironmentFile=
# /etc/default/irqbalance overrides this drop-in if it sets the same variable.)
irqbalance_ban() {
  local dropin=/run/systemd/system/irqbalance.service.d/tickgate.conf
  if [ -n "$ROOT" ] || ! command -v systemctl >/dev/null || ! systemctl cat irqbalance.service >/dev/null 2>&1; then
    note "skip  irqbalance (not installed, or --root)"; return 0
  fi
  if [ -e "$dropin" ]; then note "ok    $dropin exists"; return 0; fi
  save created "$dropin" -
  run mkdir -p "$(dirname "$dropin")"
  printf '+ printf "[Service]\\nEnvironment=IRQBALANCE_BANNED_CPULIST=%s\\n" > %s\n' "$HOT" "$dropin"
  [ "$DRY_RUN" = 1 ] || printf '[Service]\nEnvironment=IRQBALANCE_BANNED_CPULIST=%s\n' "$HOT" >"$dropin"
  run systemctl daemon-reload
  run systemctl try-restart irqbalance.service
}

# --- CPU frequency: the performance governor on every CPU.
# Buys: cores stay at full clock. Missing: the first microseconds after a quiet spell
# run at a low clock (2-3x slower), and frequency transitions stall the core ~10 µs.
governor() {
  local f
  for f in "$ROOT"/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor; do
    [ -e "$f" ] || { note "skip  cpufreq (no governor: a VM, or firmware-controlled)"; return 0; }
    set_value "${f#"$ROOT"}" performance
  done
}

# --- C-states: no idle state deeper than 2 µs exit latency on the hot CPUs, and a PM
# QoS request held on /dev/cpu_dma_latency for the whole host.
# Buys: a thread that parks (idle = spin-park) wakes in ~1 µs, and a spinning core's
# package is not dragged into deep sleep. Missing: 10-100+ µs wake-ups after idle.
cstates() {
  local cpu dir latency
  for cpu in $(expand_cpulist "$HOT"); do
    for dir in "$ROOT/sys/devices/system/cpu/cpu$cpu/cpuidle"/state[0-9]*; do
      [ -e "$dir/latency" ] || continue
      latency=$(cat "$dir/latency")
      [ "$latency" -gt 2 ] && set_value "${dir#"$ROOT"}/disable" 1
    done
  done
  hold_dma_latency
}

# The PM QoS request lives as long as the file stays open: a small holder process
# keeps it open (a transient systemd unit when systemd is there).
hold_dma_latency() {
  local unit=tickgate-cpu-dma-latency hold
  hold="exec 3>/dev/cpu_dma_latency && printf '%x\n' $DMA_LATENCY_US >&3 && exec sleep infinity"
  if [ -n "$ROOT" ] || [ ! -e /dev/cpu_dma_latency ]; then
    note "skip  /dev/cpu_dma_latency (missing, or --root)"; return 0
  fi
  if command -v systemd-run >/dev/null && [ -d /run/systemd/system ]; then
    if systemctl is-active --quiet "$unit"; then note "ok    $unit running"; return 0; fi
    save unit "$unit" started
    run systemd-run --unit="$unit" --description="tickgate PM QoS: cpu_dma_latency $DMA_LATENCY_US us" bash -c "$hold"
  elif saved pid cpu_dma_latency; then
    note "ok    cpu_dma_latency holder recorded in $STATE"
  else
    echo "+ nohup bash -c \"$hold\" &"
    [ "$DRY_RUN" = 1 ] && return 0
    nohup bash -c "$hold" >/dev/null 2>&1 &
    save pid cpu_dma_latency "$!"
  fi
}

# --- Memory management.
memory() {
  # THP never. Buys: no khugepaged compaction, no huge-page faults zeroing 2 MiB on a
  # hot path. Missing: rare 100 µs+ stalls in page faults and compaction. The rings use
  # explicit hugetlb pages (below) instead.
  set_value /sys/kernel/mm/transparent_hugepage/enabled never
  set_value /sys/kernel/mm/transparent_hugepage/defrag never
  # KSM off. Buys: no ksmd scanning, no copy-on-write break of a merged page.
  # Missing: an unexpected page fault on first write to a merged page.
  set_value /sys/kernel/mm/ksm/run 0
  # NUMA balancing off. Buys: no hinting page faults on hot threads' memory.
  # Missing: periodic minor faults (µs each) and page migrations under the hot thread.
  set_value /proc/sys/kernel/numa_balancing 0
  # Swappiness 1. Buys: reclaim drops page cache before anonymous memory.
  # Missing: under memory pressure an unlocked page of the process can be swapped out.
  set_value /proc/sys/vm/swappiness 1
  # vmstat every 10 s instead of 1 s. Buys: fewer vmstat_update works on every CPU.
  # Missing: a per-second kworker wake-up (nohz_full CPUs defer it, others do not).
  set_value /proc/sys/vm/stat_interval 10
  # Hugepages for the rings. Buys: ring memory on 2 MiB pages, far fewer TLB misses,
  # reserved up front (no fault-time allocation). Missing: TLB misses on ring reads.
  [ "$HUGEPAGES" -gt 0 ] && set_value /proc/sys/vm/nr_hugepages "$HUGEPAGES"
  return 0
}

# --- Kernel housekeeping work away from the hot CPUs.
kernel_work() {
  # No timer migration. Buys: an idle CPU does not hand its timers to a busy one —
  # which can be a spinning hot core. Missing: timer callbacks running on hot cores.
  set_value /proc/sys/kernel/timer_migration 0
  # No NMI watchdog (runtime twin of `nowatchdog`). Buys: no perf NMI every few
  # seconds on each CPU. Missing: a periodic µs-scale NMI gap on every hot core.
  set_value /proc/sys/kernel/nmi_watchdog 0
  # Unbound workqueues on housekeeping CPUs. Buys: kworkers for writeback, crypto,
  # etc. never run on hot cores. Missing: occasional 10-100 µs kworker preemptions.
  set_value /sys/devices/virtual/workqueue/cpumask "$HK_MASK" mask
  set_value /sys/bus/workqueue/devices/writeback/cpumask "$HK_MASK" mask
}

# --- Socket busy polling for the gateway's TCP sockets.
# Buys: a blocking recv/poll spins on the NIC queue for up to 50 µs instead of sleeping
# for the interrupt. Missing: every wake-up pays IRQ + softirq + scheduler (5-20 µs).
busy_poll() {
  set_value /proc/sys/net/core/busy_read 50
  set_value /proc/sys/net/core/busy_poll 50
}

# A NIC setting via ethtool, saved first. $1 = -C|-G, $2 = name as `ethtool -C/-G`
# takes it, $3 = current value, $4 = wanted value.
ethtool_set() {
  if [ -z "$3" ] || [ "$3" = "n/a" ]; then note "skip  $IFACE $2 (not supported)"; return 0; fi
  if [ "$3" = "$4" ]; then note "ok    $IFACE $2 = $4"; return 0; fi
  save ethtool "$IFACE:$2" "$1 $3"
  run ethtool "$1" "$IFACE" "$2" "$4" || note "warning: $IFACE rejected $2 $4"
}

# --- NIC: interrupt coalescing off, rings large enough for bursts.
# Coalescing buys nothing for latency: the NIC waits rx-usecs (often 50-100 µs) to batch
# interrupts. Missing: every packet waits for the coalescing timer. Bigger rings absorb
# the market-open burst. Missing: drops -> TCP retransmits (200 ms+) or MoldUDP gaps.
nic() {
  [ -n "$IFACE" ] || { note "skip  NIC (no --iface)"; return 0; }
  command -v ethtool >/dev/null || { note "skip  NIC (install ethtool)"; return 0; }
  [ -n "$ROOT" ] && { note "skip  NIC (--root)"; return 0; }
  local c g field
  c=$(ethtool -c "$IFACE" 2>/dev/null) || { note "skip  NIC: ethtool -c $IFACE failed"; return 0; }
  ethtool_set -C adaptive-rx "$(awk '/^Adaptive RX:/ {print $3}' <<<"$c")" off
  ethtool_set -C adaptive-tx "$(awk '/^Adaptive RX:/ {print $5}' <<<"$c")" off
  for field in rx-usecs tx-usecs; do
    ethtool_set -C "$field" "$(awk -v f="$field:" '$1 == f {print $2}' <<<"$c")" 0
  done
  ethtool_set -C rx-frames "$(awk '$1 == "rx-frames:" {print $2}' <<<"$c")" 1
  g=$(ethtool -g "$IFACE" 2>/dev/null) || { note "skip  NIC rings: ethtool -g failed"; return 0; }
  for field in RX TX; do
    local max cur
    max=$(awk -v f="$field:" '$1 == f {print $2; exit}' <<<"$g")
    cur=$(awk -v f="$field:" '$1 == f {v = $2} END {print v}' <<<"$g")
    [[ $max =~ ^[0-9]+$ ]] || continue
    ethtool_set -G "${field,,}" "$cur" $((NIC_RING < max ? NIC_RING : max))
  done
}

irq_affinity
irqbalance_ban
governor
cstates
memory
kernel_work
busy_poll
nic
note "done. Runtime tuning is in place; the boot-time part is printed below."
"$HERE/cmdline.sh" --hot-cpus "$HOT" --housekeeping-cpus "$HK"
