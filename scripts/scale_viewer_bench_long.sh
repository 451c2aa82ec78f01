#!/usr/bin/env bash
# scripts/scale_viewer_bench.sh for stores that take minutes to open (issue 18's 100,000-run
# measurement): the same measurement (a real window under Xvfb with MLSCOPE_VIEWER_TIMINGS=1,
# first rows, all rows, VmHWM once all rows are in), waiting up to MLSCOPE_VIEWER_WAIT_S seconds
# (default 1800) for "all rows after" instead of 120 s, and printing the viewer's RSS every 30 s
# while it loads (to see a memory blow-up as it happens).
#
#   MLSCOPE_VIEWER_WAIT_S=900 scripts/scale_viewer_bench_long.sh STORE [REPS]
#
# The environment passes through (MLSCOPE_NO_INDEX=1 for a cold file store, MLSCOPE_INDEX_DIR
# for an index folder). MLSCOPE_BIN picks the binary (default target/release/mlscope).
set -euo pipefail
store=${1:?usage: scale_viewer_bench_long.sh STORE [REPS]}
reps=${2:-1}
wait_s=${MLSCOPE_VIEWER_WAIT_S:-1800}
bin=${MLSCOPE_BIN:-${CARGO_TARGET_DIR:-target}/release/mlscope}
display=:$((90 + RANDOM % 9))
Xvfb "$display" -screen 0 1600x1000x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
sleep 1
for rep in $(seq "$reps"); do
  log=$(mktemp)
  started=$(date +%s)
  DISPLAY=$display MLSCOPE_VIEWER_TIMINGS=1 "$bin" --read-only "$store" 2>"$log" >/dev/null &
  pid=$!
  ticks=0
  outcome="gave up after $wait_s s"
  while [ $(($(date +%s) - started)) -lt "$wait_s" ]; do
    if grep -q "all rows after" "$log"; then outcome=done; break; fi
    if ! kill -0 "$pid" 2>/dev/null; then outcome="viewer exited: $(tail -3 "$log")"; break; fi
    sleep 0.1
    ticks=$((ticks + 1))
    if [ $((ticks % 300)) -eq 0 ]; then
      echo "  $(($(date +%s) - started)) s: RSS $(awk '/VmRSS/ {print $2 " " $3}' "/proc/$pid/status" 2>/dev/null || echo ?)"
    fi
  done
  sleep 1
  hwm=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$pid/status" 2>/dev/null || echo "?")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  first=$(grep -o "first rows after [0-9.]* ms ([0-9]* runs)" "$log" | head -1 || true)
  all=$(grep -o "all rows after [0-9.]* ms ([0-9]* runs[^)]*)" "$log" | head -1 || true)
  echo "rep $rep ($outcome): $first; $all; peak RSS $hwm"
  rm -f "$log"
done
