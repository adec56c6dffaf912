#!/bin/sh
# The whole test suite ROUNDS times in a row (default 5) with one busy process per core running
# beside it: the check that no test depends on an idle machine. Each round's TAP output is kept in
# the printed directory; the exit status is 1 when any round failed.
#   npm run test:under-load            # 5 rounds
#   sh scripts/test-under-load.sh 2    # 2 rounds
set -u
ROUNDS=${1:-5}
CORES=$(getconf _NPROCESSORS_ONLN 2>/dev/null || nproc)
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/prom2oci-under-load-XXXXXX")
cd "$(dirname "$0")/.." || exit 2
npm run build >"$LOGS/build.log" 2>&1 || { echo "build failed: see $LOGS/build.log"; exit 2; }

HOGS=""
stop_hogs() { [ -n "$HOGS" ] && kill $HOGS 2>/dev/null; HOGS=""; }
trap stop_hogs EXIT
trap 'stop_hogs; exit 130' INT TERM
i=0
while [ "$i" -lt "$CORES" ]; do
  sh -c 'while :; do :; done' &
  HOGS="$HOGS $!"
  i=$((i + 1))
done
echo "$CORES busy processes running (pids$HOGS); logs in $LOGS"

FAILED=0
r=1
while [ "$r" -le "$ROUNDS" ]; do
  started=$(date +%s)
  node --import tsx --test --test-concurrency=1 test/*.test.ts >"$LOGS/round-$r.tap" 2>&1
  status=$?
  pass=$(sed -n 's/^# pass //p' "$LOGS/round-$r.tap" | tail -1)
  fail=$(sed -n 's/^# fail //p' "$LOGS/round-$r.tap" | tail -1)
  echo "round $r/$ROUNDS: exit $status, pass ${pass:-?}, fail ${fail:-?}, $(( $(date +%s) - started )) s"
  if [ "$status" -ne 0 ]; then
    FAILED=1
    grep -E '^\s*not ok' "$LOGS/round-$r.tap" | sed 's/^/  /'
  fi
  r=$((r + 1))
done
exit "$FAILED"
