#!/usr/bin/env bash
# Reverts tuning/apply.sh: restores every value it saved, last change first, stops the
# cpu_dma_latency holder, removes the irqbalance drop-in, then deletes the state file.
# Idempotent: without a state file there is nothing to revert.
#
# Usage: sudo tuning/revert.sh [--dry-run] [--root DIR] [--state FILE]
#   --dry-run   print every command, change nothing (the state file is kept)
#   --root      act on a copy of /proc, /sys and /etc under DIR (tests)
#   --state     the state file apply.sh wrote (default /run/tickgate-tuning/state)
#
# The kernel command line is not touched: remove its parameters from the bootloader
# by hand (tuning/cmdline.sh prints them).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tuning/lib.sh
. "$HERE/lib.sh"

usage() { sed -n '6,9p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }

while [ $# -gt 0 ]; do
  case $1 in
    --dry-run) DRY_RUN=1; shift ;;
    --root) ROOT=${2:?}; shift 2 ;;
    --state) STATE=${2:?}; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "revert.sh: unknown option $1" >&2; usage 2 ;;
  esac
done
[ -n "$STATE" ] || STATE=$(default_state)
if [ ! -f "$STATE" ]; then
  note "nothing to revert: no state file $STATE"
  exit 0
fi
if [ "$DRY_RUN" = 0 ] && [ -z "$ROOT" ] && [ "$(id -u)" != 0 ]; then
  die "run as root (or with --dry-run to see the commands)"
fi

# Undoes one state line.
undo() {
  local kind=$1 target=$2 value=$3
  case $kind in
    file) write_value "$target" "$value" ;;
    unit) run systemctl stop "$target" || note "warning: $target was not running" ;;
    pid) run kill "$value" || note "warning: holder $value was not running" ;;
    created)
      run rm -f "$ROOT$target"
      if [[ $target == /run/systemd/* ]] && [ -z "$ROOT" ]; then
        run systemctl daemon-reload
        run systemctl try-restart irqbalance.service
      fi ;;
    ethtool) run ethtool "${value%% *}" "${target%%:*}" "${target#*:}" "${value#* }" ||
      note "warning: ${target%%:*} rejected ${target#*:} ${value#* }" ;;
    *) note "warning: unknown state line '$kind' ignored" ;;
  esac
}

note "reverting from $STATE$([ "$DRY_RUN" = 1 ] && echo ', dry run')"
tac "$STATE" | while IFS=$'\t' read -r kind target value; do
  undo "$kind" "$target" "$value"
done
run rm -f "$STATE"
[ "$DRY_RUN" = 1 ] || rmdir "$(dirname "$STATE")" 2>/dev/null || true
note "done. Reboot without the tuning/cmdline.sh parameters to undo the boot-time part."
