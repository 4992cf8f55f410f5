# shellcheck shell=bash
# Shared helpers of tuning/apply.sh and tuning/revert.sh (sourced, not run).
#
# Every change goes through `run` or `write_value`, which print the command first
# ("+ ...") and do nothing else under --dry-run. Every value changed is saved to the
# state file before it is changed, once: applying twice keeps the values from before the
# first apply, and revert.sh restores exactly those. Everything apply.sh changes is
# runtime-only (the irqbalance drop-in too, under /run/systemd), so the state file lives
# in /run as well: a reboot clears the tuning and its state together.
#
# State file lines (tab-separated, revert.sh replays them last-first):
#   file     <path>        <previous value>      a /proc or /sys value
#   unit     <unit>        started               a transient systemd unit to stop
#   pid      <what>        <pid>                 a holder process to kill
#   created  <path>        -                     a file apply.sh created (to remove)
#   ethtool  <iface:arg>   <-C|-G> <value>       a NIC setting to set back

ROOT=""                   # --root DIR: act on a copy of /proc, /sys, /etc (tests)
DRY_RUN=0                 # --dry-run: print every command, change nothing
STATE=""                  # --state FILE (default $ROOT/run/tickgate-tuning/state)

die() { echo "tuning: error: $*" >&2; exit 1; }
note() { echo "tuning: $*"; }

# Prints a command, then runs it unless --dry-run.
run() {
  echo "+ $*"
  [ "$DRY_RUN" = 1 ] || "$@"
}

# The default state file, under --root when given.
default_state() { echo "$ROOT/run/tickgate-tuning/state"; }

# "0-3,8" -> "0 1 2 3 8"
expand_cpulist() {
  local part a b i out=() parts=()
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    [ -n "$part" ] || continue
    if [[ $part == *-* ]]; then
      a=${part%-*}; b=${part#*-}
      for ((i = a; i <= b; i++)); do out+=("$i"); done
    else
      out+=("$part")
    fi
  done
  echo "${out[@]}"
}

# Checks a CPU list's syntax ("0-3,8").
valid_cpulist() { [[ $1 =~ ^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$ ]]; }

# "0-1,4" -> "13": the kernel's hex CPU mask, 32-bit groups separated by commas.
cpulist_to_mask() {
  local cpu words=() i mask=""
  for cpu in $(expand_cpulist "$1"); do
    i=$((cpu / 32))
    while [ "${#words[@]}" -le "$i" ]; do words+=(0); done
    words[i]=$((words[i] | (1 << (cpu % 32))))
  done
  [ "${#words[@]}" -gt 0 ] || words=(0)
  for ((i = ${#words[@]} - 1; i >= 0; i--)); do
    if [ -z "$mask" ]; then mask=$(printf '%x' "${words[i]}"); else mask+=$(printf ',%08x' "${words[i]}"); fi
  done
  echo "$mask"
}

# A mask without commas and leading zeros, for comparing "00000003" with "3".
normalize_mask() {
  local m=${1//,/}
  m=${m#"${m%%[!0]*}"}
  echo "${m:-0}"
}

# The current value of a /proc or /sys file: the bracketed choice of a selector
# ("always [madvise] never" -> "madvise"), else the first line.
current_value() {
  local text
  text=$(head -n1 "$ROOT$1" 2>/dev/null) || return 1
  if [[ $text =~ \[([^]]+)\] ]]; then echo "${BASH_REMATCH[1]}"; else echo "$text"; fi
}

# Whether the state file already holds a line for kind $1 and target $2.
saved() {
  [ -f "$STATE" ] && awk -F'\t' -v k="$1" -v t="$2" '$1 == k && $2 == t { f = 1 } END { exit !f }' "$STATE"
}

# Saves a previous value (first time only).
save() {
  saved "$1" "$2" && return 0
  if [ "$DRY_RUN" = 1 ]; then
    echo "  (would save $1 $2 = ${3:-} to $STATE)"
    return 0
  fi
  mkdir -p "$(dirname "$STATE")"
  printf '%s\t%s\t%s\n' "$@" >>"$STATE"
}

# Writes a value to a /proc or /sys file (printed as the equivalent shell command).
write_value() {
  echo "+ echo $2 > $1"
  [ "$DRY_RUN" = 1 ] && return 0
  printf '%s\n' "$2" 2>/dev/null >"$ROOT$1" || { note "warning: could not write $2 to $1 (left as is)"; return 0; }
}

# Sets file $1 to $2 idempotently, saving the previous value. $3 = "mask" compares hex
# masks by value. Missing files are skipped: the knob does not exist on this kernel.
set_value() {
  local path=$1 want=$2 kind=${3:-} cur
  if [ ! -e "$ROOT$path" ]; then note "skip  $path (not on this host)"; return 0; fi
  cur=$(current_value "$path") || { note "skip  $path (unreadable)"; return 0; }
  if [ "$cur" = "$want" ] || { [ "$kind" = mask ] && [ "$(normalize_mask "$cur")" = "$(normalize_mask "$want")" ]; }; then
    note "ok    $path = $want"
    return 0
  fi
  save file "$path" "$cur"
  write_value "$path" "$want"
}
