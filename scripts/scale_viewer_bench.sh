#!/usr/bin/env bash
# Viewer timings on a large store (issue 18): opens the store in a real window under Xvfb with
# MLSCOPE_VIEWER_TIMINGS=1, waits for "all rows after", and prints the first-rows and all-rows
# times with the viewer's peak memory (VmHWM of /proc/<pid>/status) once all rows are in.
#
#   [MLSCOPE_VIEWER_WAIT_S=1800] scripts/scale_viewer_bench.sh STORE [REPS]
#
# The environment passes through (MLSCOPE_NO_INDEX=1 for a cold file store, MLSCOPE_INDEX_DIR
# for the bench's index folder). MLSCOPE_BIN picks the binary (default target/release/mlscope).
# It waits up to MLSCOPE_VIEWER_WAIT_S seconds (default 120) for all rows, printing the viewer's
# RSS every 30 s meanwhile (stores of 100,000 runs take minutes: a memory blow-up shows as it
# happens). VmHWM is read MLSCOPE_BENCH_SETTLE seconds (default 5) after all rows are in, so that
# the work the viewer does right after them (run counts, the experiment active last) counts.
set -euo pipefail
store=${1:?usage: scale_viewer_bench.sh STORE [REPS]}
reps=${2:-1}
wait_s=${MLSCOPE_VIEWER_WAIT_S:-120}
bin=${MLSCOPE_BIN:-${CARGO_TARGET_DIR:-target}/release/mlscope}
display=:$((90 + RANDOM % 9))
Xvfb "$display" -screen 0 1600x1000x24 >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true' EXIT
sleep 1
for rep in $(seq "$reps"); do
  log=$(mktemp)
  DISPLAY=$display MLSCOPE_VIEWER_TIMINGS=1 "$bin" --read-only "$store" 2>"$log" >/dev/null &
  pid=$!
  started=$(date +%s)
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
  sleep "${MLSCOPE_BENCH_SETTLE:-5}"
  hwm=$(awk '/VmHWM/ {print $2 " " $3}' "/proc/$pid/status" 2>/dev/null || echo "?")
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  first=$(grep -o "first rows after [0-9.]* ms ([0-9]* runs)" "$log" | head -1 || true)
  all=$(grep -o "all rows after [0-9.]* ms ([0-9]* runs[^)]*)" "$log" | head -1 || true)
  echo "rep $rep ($outcome): $first; $all; peak RSS $hwm"
  rm -f "$log"
done
