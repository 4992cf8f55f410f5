#!/usr/bin/env bash
# Prints the kernel command line for tickgate's hot CPUs. It is printed, never applied:
# a wrong boot line can leave a host unbootable, so a person adds it to the bootloader.
#
# Usage: tuning/cmdline.sh --hot-cpus LIST [--housekeeping-cpus LIST] [--line]
#   --line   print only the parameters (what `tickgate tune check` suggests)
#
# What each parameter buys, and the symptom when it is missing:
#   isolcpus=managed_irq,domain,HOT  the scheduler never places other tasks on HOT and
#       managed (per-queue) IRQs avoid them. Missing: kworkers and stray processes
#       preempt the spinning thread; 10 µs–ms gaps in `bench jitter`.
#   nohz_full=HOT  no periodic scheduler tick on a CPU running one task. Missing: a
#       1–4 µs hiccup every 1–4 ms (CONFIG_HZ) on every hot CPU.
#   rcu_nocbs=HOT rcu_nocb_poll  RCU callbacks run on housekeeping CPUs, whose rcuo
#       threads poll instead of being woken from HOT. Missing: softirq bursts on HOT.
#   irqaffinity=HK  device IRQs start on housekeeping CPUs. Missing: NIC and disk
#       interrupts land on the hot cores until something moves them.
#   skew_tick=1  staggers the housekeeping CPUs' ticks. Missing: jiffies-lock contention.
#   nowatchdog  no soft/hard-lockup watchdog (NMI every few s, a per-CPU kthread).
#       Missing: a periodic NMI on every CPU, a few µs each.
#   transparent_hugepage=never  THP off from boot. Missing: compaction stalls in faults.
# Optional, platform-specific (printed as a comment):
#   processor.max_cstate=1 intel_idle.max_cstate=1  no deep C-states even before
#       tuning/apply.sh runs. Missing: 10–100+ µs wake-ups after idle. Prefer the BIOS.
#   tsc=reliable  no clocksource watchdog. Only with an invariant TSC (tune check says):
#       a busy host can otherwise see the TSC marked unstable and fall back to hpet.
set -euo pipefail
# shellcheck source=tuning/lib.sh
. "$(dirname "$0")/lib.sh"

usage() { sed -n '5,7p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

HOT=""; HK=""; LINE_ONLY=0
while [ $# -gt 0 ]; do
  case $1 in
    --hot-cpus) HOT=${2:?}; shift 2 ;;
    --housekeeping-cpus) HK=${2:?}; shift 2 ;;
    --line) LINE_ONLY=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "cmdline.sh: unknown option $1" >&2; usage 2 ;;
  esac
done
valid_cpulist "$HOT" || die "--hot-cpus LIST is required (e.g. 2-5)"
if [ -z "$HK" ]; then HK=0; fi
valid_cpulist "$HK" || die "--housekeeping-cpus $HK is not a CPU list"

line="isolcpus=managed_irq,domain,$HOT nohz_full=$HOT rcu_nocbs=$HOT rcu_nocb_poll"
line+=" irqaffinity=$HK skew_tick=1 nowatchdog transparent_hugepage=never"
if [ "$LINE_ONLY" = 1 ]; then echo "$line"; exit 0; fi
cat <<TEXT
# Kernel command line for hot CPUs $HOT (housekeeping $HK). Not applied: add it to
# GRUB_CMDLINE_LINUX in /etc/default/grub, run update-grub, reboot, then check with
# \`tickgate tune check\`. If SMT is on, add each hot CPU's sibling to the three lists.
$line
# Optional (see the comments in tuning/cmdline.sh before adding):
#   processor.max_cstate=1 intel_idle.max_cstate=1 tsc=reliable
TEXT
