#!/usr/bin/env bash
# Windows CI for mlscope: cross-compiles for x86_64-pc-windows-gnu with mingw-w64 and runs the
# test suites that need no Python under Wine. Called by .ci/run; runs alone too:
#     .ci/windows.sh
#
# Steps (each timed; a summary prints at the end, also on failure):
#   packages        gcc-mingw-w64-x86-64 and wine64 (Debian), installed if missing (root or
#                   passwordless sudo, like .ci/run)
#   target          rustup target add x86_64-pc-windows-gnu, if missing; the Windows target dir
#                   is wiped when larger than MLSCOPE_CI_MAX_WINDOWS_TARGET_GB (default 10)
#   check lib       cargo check --lib --no-default-features (the library users' feature set;
#                   the tests and examples are built with default features below)
#   shim            .ci/wine/processprng.c -> bcryptprimitives.dll (Debian's Wine 8 lacks
#                   ProcessPrng, which Rust's std calls for randomness; real Windows has it)
#   build           default features (viewer, cli): the library's unit tests, the integration
#                   tests in WINE_TESTS and mlscope.exe, in one build (the CLI tests run the exe),
#                   which is also the viewer feature set's check
#   exe zip         $MLSCOPE_CACHE/windows-dist/mlscope-windows-x86_64.zip (mlscope.exe,
#                   README.md, docs/PLATFORMS.md); also copied to $MLSCOPE_WINDOWS_DIST if set
#   wine tests      the library's unit tests and the integration tests in WINE_TESTS under Wine
#                   (CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER). Tests that need Python MLflow
#                   skip there: MLSCOPE_REQUIRE_MLFLOW is unset and the venv paths point nowhere.
#
# Profile: the dev profile (dependencies at opt-level 1, line tables only), no incremental data
# (CARGO_INCREMENTAL=0): the exe in the zip is that build, so it costs no extra compile.
#
# Caches: the Windows target dir is $MLSCOPE_CACHE/target-windows (MLSCOPE_WINDOWS_TARGET_DIR
# overrides), the Wine prefix $MLSCOPE_CACHE/wineprefix (created by the first run, ~30 s).
# MLSCOPE_WINDOWS_CHECK_ONLY=1: packages, target and the library check only.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
REPO="$(pwd)"

TARGET=x86_64-pc-windows-gnu
export MLSCOPE_CACHE="${MLSCOPE_CACHE:-$HOME/.cache/mlscope}"
export CARGO_TARGET_DIR="${MLSCOPE_WINDOWS_TARGET_DIR:-$MLSCOPE_CACHE/target-windows}"
export CARGO_INCREMENTAL=0
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
export DEBIAN_FRONTEND=noninteractive
# The cross linker and C compiler (rusqlite's bundled SQLite, ring) for the target.
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
export CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc
export AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar
unset MLFLOW_TRACKING_URI MLSCOPE_REQUIRE_MLFLOW

# MLSCOPE_WINDOWS_CHECK_ONLY=1 (what .ci/run uses while the Wine run is not yet green, issue 19):
# packages, target and the two cargo checks only; no Wine, no test build.
CHECK_ONLY="${MLSCOPE_WINDOWS_CHECK_ONLY:-0}"
SYSTEM_PACKAGES=(gcc-mingw-w64-x86-64 wine64)
[ "$CHECK_ONLY" = 1 ] && SYSTEM_PACKAGES=(gcc-mingw-w64-x86-64)

# Integration tests (tests/*.rs) run under Wine: the ones that exercise the stores, paths,
# files and the CLI and need no Python MLflow, no X server and no `mlflow server`. Left out:
# mlflow_interop, examples_interop, rest_server, viewer_server, system_metrics (Python reads
# what they write), autolog (feature burn), viewer_perf (timings), viewer_previews and
# viewer_trust_* (viewer rendering, covered on Linux), concurrent_processes and concurrent_races
# (see docs/PLATFORMS.md).
WINE_TESTS=(
    store_contract search_corpus artifacts fixture_artifacts mlflow_fixtures cli tracking_api
    async_logging sqlite_locked store_hazards live_refresh viewer windows_paths
)

# Tests left out of the Wine run only (they run on Linux), each for the reason given.
WINE_SKIPS=(
    # src/artifacts (issue 17's area): expected paths written as unix paths ("/tmp/…" parsed
    # from file:///tmp/…, a note naming "/cluster/home/bob"); Windows reads them as drive
    # paths on the current drive. tests/artifacts.rs covers the same resolution under Wine.
    artifacts::tests::parses_artifact_uris
    artifacts::tests::resolves_copied_file_store
    # Wine: after the experiment folder is renamed into .trash and back, Wine's emulation of
    # the recursive ReadDirectoryChangesW watch (inotify per folder) reports nothing more for
    # it; on Windows the watch on the store root covers every folder below it
    deleting_and_recreating_runs_under_the_watcher_does_not_panic
    # Wine: the same emulation misses, in about half the runs, the folder of a run created
    # right after the watch starts (tests/live_opening.rs, 2 of 4 under Wine on 2026-12-06);
    # the viewer's catch-up after the rows is what it checks, and it runs on Linux and macOS
    a_run_logged_while_the_store_opens_shows
    # Windows, not Wine: these compare with MLflow's Linux reading of fixtures that hold keys
    # with ':' (eval:split, eval:auc), which Windows refuses (as MLflow there does) and NTFS
    # cannot store; Wine shows them from the Linux file system. The damaged_* tests of the same
    # file leave those keys out on Windows and run. search_corpus's file-store test searches the
    # same fixture.
    mlflow_2_22_5_file_store_reads_like_mlflow
    mlflow_3_17_2_file_store_reads_like_mlflow
    file_store_matches_mlflow_file_store
)

TIMINGS=()
CURRENT=""
CURRENT_START=$SECONDS
CI_START=$SECONDS

fmt_secs() { printf '%dm%02ds' $(($1 / 60)) $(($1 % 60)); }

summary() {
    local rc=$?
    echo
    echo "================ Windows CI summary ================"
    local t
    for t in "${TIMINGS[@]}"; do echo "$t"; done
    if [ "$rc" -ne 0 ] && [ -n "$CURRENT" ]; then
        printf '  %-16s %8s  FAILED (exit %d)\n' "$CURRENT" "$(fmt_secs $((SECONDS - CURRENT_START)))" "$rc"
    fi
    printf '  %-16s %8s  %s\n' "windows total" "$(fmt_secs $((SECONDS - CI_START)))" "$([ "$rc" -eq 0 ] && echo OK || echo FAILED)"
    exit "$rc"
}
trap summary EXIT

step() {
    CURRENT="$1"
    shift
    CURRENT_START=$SECONDS
    echo
    echo "================ [windows: $CURRENT] $* ================"
    "$@"
    TIMINGS+=("$(printf '  %-16s %8s  ok' "$CURRENT" "$(fmt_secs $((SECONDS - CURRENT_START)))")")
    CURRENT=""
}

install_system_packages() {
    local missing=() p
    for p in "${SYSTEM_PACKAGES[@]}"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        echo "all ${#SYSTEM_PACKAGES[@]} packages present"
        return 0
    fi
    echo "installing: ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            echo "ERROR: not root and no passwordless sudo; install: ${missing[*]}" >&2
            return 1
        fi
    fi
    "${sudo[@]}" apt-get update -q
    "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
}

find_wine() {
    local w
    for w in /usr/lib/wine/wine64 "$(command -v wine64 || true)" "$(command -v wine || true)"; do
        if [ -n "$w" ] && [ -x "$w" ]; then
            WINE="$w"
            return 0
        fi
    done
    echo "ERROR: no wine64 binary found (package wine64)" >&2
    return 1
}

rust_target() {
    if rustup target list --installed | grep -qx "$TARGET"; then
        echo "$TARGET installed"
    else
        rustup target add "$TARGET"
    fi
    x86_64-w64-mingw32-gcc --version | head -n 1
    if [ "$CHECK_ONLY" != 1 ]; then
        find_wine
        "$WINE" --version
    fi
    echo "target dir $CARGO_TARGET_DIR"
    # Stale artifacts of old dependency versions pile up: a target dir past the cap is wiped.
    local max_gb="${MLSCOPE_CI_MAX_WINDOWS_TARGET_GB:-10}"
    if [ -d "$CARGO_TARGET_DIR" ]; then
        local kb
        kb=$(du -sk "$CARGO_TARGET_DIR" | cut -f1)
        echo "$((kb / 1024)) MB"
        if [ "$kb" -gt $((max_gb * 1024 * 1024)) ]; then
            echo "larger than ${max_gb} GB: wiping it"
            rm -rf "$CARGO_TARGET_DIR"
        fi
    fi
}

build_shim() {
    SHIM="$CARGO_TARGET_DIR/wine-shim/bcryptprimitives.dll"
    mkdir -p "$(dirname "$SHIM")"
    x86_64-w64-mingw32-gcc -shared -O2 -s -o "$SHIM" \
        "$REPO/.ci/wine/processprng.c" "$REPO/.ci/wine/processprng.def" -ladvapi32
    ls -l "$SHIM"
}

test_args() {
    local args=(--target "$TARGET" --lib) t
    for t in "${WINE_TESTS[@]}"; do args+=(--test "$t"); done
    echo "${args[@]}"
}

build_tests() {
    # shellcheck disable=SC2046
    cargo test --no-run $(test_args)
    # Beside every Windows executable cargo test runs: test harnesses (deps/), the binary the
    # CLI tests spawn, examples.
    local dir
    for dir in deps "" examples; do
        mkdir -p "$CARGO_TARGET_DIR/$TARGET/debug/$dir"
        cp "$SHIM" "$CARGO_TARGET_DIR/$TARGET/debug/$dir/"
    done
}

zip_exe() {
    local exe="$CARGO_TARGET_DIR/$TARGET/debug/mlscope.exe"
    local dist="$MLSCOPE_CACHE/windows-dist"
    local stage
    stage="$(mktemp -d)"
    mkdir -p "$dist" "$stage/mlscope"
    cp "$exe" "$REPO/README.md" "$stage/mlscope/"
    cp "$REPO/docs/PLATFORMS.md" "$stage/mlscope/" 2>/dev/null || true
    rm -f "$dist/mlscope-windows-x86_64.zip"
    (cd "$stage" && python3 -m zipfile -c "$dist/mlscope-windows-x86_64.zip" mlscope)
    rm -rf "$stage"
    python3 -m zipfile -l "$dist/mlscope-windows-x86_64.zip"
    if [ -n "${MLSCOPE_WINDOWS_DIST:-}" ]; then
        mkdir -p "$MLSCOPE_WINDOWS_DIST"
        cp "$dist/mlscope-windows-x86_64.zip" "$MLSCOPE_WINDOWS_DIST/"
    fi
    echo "build output: $dist/mlscope-windows-x86_64.zip"
}

wine_tests() {
    export WINEPREFIX="$MLSCOPE_CACHE/wineprefix"
    export WINEDEBUG=-all
    export WINEDLLOVERRIDES="bcryptprimitives=n;mscoree,mshtml="
    export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER="$WINE"
    # No display: console tests only (kittest renders without a window).
    unset DISPLAY WAYLAND_DISPLAY
    # Python MLflow is a Linux program: the tests that need it skip under Wine.
    local nowhere
    nowhere="$(mktemp -d)"
    export MLSCOPE_CACHE="$nowhere" MLSCOPE_MLFLOW_PYTHON_317="$nowhere/none" \
        MLSCOPE_MLFLOW_PYTHON_222="$nowhere/none"
    # async_logging's main test logs 1,000,000 points by default (Linux runs that); a quarter
    # of it exercises the same queue under Wine, whose file writes are several times slower.
    export MLSCOPE_ASYNC_TEST_POINTS="${MLSCOPE_ASYNC_TEST_POINTS:-250000}"
    if [ ! -d "$WINEPREFIX" ]; then
        echo "creating the Wine prefix $WINEPREFIX"
        "$WINE" wineboot --init >/dev/null 2>&1 || true
    fi
    local skips=() t
    for t in "${WINE_SKIPS[@]}"; do skips+=(--skip "$t"); done
    # shellcheck disable=SC2046
    cargo test --no-fail-fast $(test_args) -- --test-threads=2 "${skips[@]}"
    "$(dirname "$WINE")/wineserver64" -k 2>/dev/null || wineserver -k 2>/dev/null || true
    rm -rf "$nowhere"
}

echo "mlscope Windows CI in $REPO; CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
step "packages" install_system_packages
step "target" rust_target
step "check lib" cargo check --lib --no-default-features --target "$TARGET"
[ "$CHECK_ONLY" = 1 ] && exit 0
step "shim" build_shim
step "build" build_tests
step "exe zip" zip_exe
step "wine tests" wine_tests
