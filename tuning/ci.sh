#!/usr/bin/env bash
# CI for the tuning scripts (run by .ci/run, as root on a VM): shellcheck, then every
# script in --dry-run against this host (must change nothing), then a real
# apply / re-apply / revert cycle against a copy of a fake host tree (--root), which must
# come back identical. Takes about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "tuning/ci: shellcheck"
shellcheck -x tuning/*.sh

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
state="$tmp/state"   # never the host's state file, even if someone tuned this box

echo "tuning/ci: dry runs on this host"
bash tuning/cmdline.sh --hot-cpus 1 --housekeeping-cpus 0 >/dev/null
bash tuning/apply.sh --dry-run --state "$state" --hot-cpus 1 --housekeeping-cpus 0 --iface lo >"$tmp/apply.out"
grep -q '^+ ' "$tmp/apply.out" || { echo "apply --dry-run printed no command"; exit 1; }
[ ! -e "$state" ] || { echo "apply --dry-run wrote its state file"; exit 1; }
bash tuning/revert.sh --dry-run --state "$state" >/dev/null

echo "tuning/ci: apply, re-apply and revert on a copy of tests/fixtures/tune/untuned"
cp -r tests/fixtures/tune/untuned "$tmp/host"
run_apply() { bash tuning/apply.sh --root "$tmp/host" --hot-cpus 2-3 --housekeeping-cpus 0-1; }
run_apply >"$tmp/first.out"
[ "$(grep -c '^+ ' "$tmp/first.out")" -gt 10 ] || { cat "$tmp/first.out"; echo "apply changed too little"; exit 1; }
grep -q $'\tpowersave$' "$tmp/host/run/tickgate-tuning/state" || { echo "previous governor not saved"; exit 1; }
run_apply >"$tmp/second.out"
if grep -q '^+ ' "$tmp/second.out"; then
  cat "$tmp/second.out"; echo "apply is not idempotent: the second run changed something"; exit 1
fi
bash tuning/revert.sh --root "$tmp/host" --dry-run >"$tmp/revert.out"
grep -q '^+ echo powersave > ' "$tmp/revert.out" || { cat "$tmp/revert.out"; echo "revert would not restore"; exit 1; }
bash tuning/revert.sh --root "$tmp/host" >/dev/null
# Selector files (THP) read back as "[always] …" on a real kernel but as the plain
# value in a fake tree; compare them by their selected word.
diff -r -x run -x enabled -x defrag tests/fixtures/tune/untuned "$tmp/host"
grep -qx always "$tmp/host/sys/kernel/mm/transparent_hugepage/enabled"
bash tuning/revert.sh --root "$tmp/host" >"$tmp/again.out"
grep -q 'nothing to revert' "$tmp/again.out" || { echo "second revert did something"; exit 1; }
echo "tuning/ci: ok"
