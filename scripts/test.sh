#!/usr/bin/env bash
# The project's test command (what the README and CI run): every test target — unit tests,
# integration tests (tests/*.rs, incl. the MLflow fixture and interop tests), examples and
# benches built — then the doc tests.
#
# Usage: scripts/test.sh [CARGO_ARGS...]     e.g. scripts/test.sh --release
#
# The interop tests need real MLflow (scripts/mlflow-venv.sh); without it they print a loud
# SKIPPED banner and pass, unless MLSCOPE_REQUIRE_MLFLOW=1 (CI sets it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
cargo test --all-targets "$@"
cargo test --doc "$@"
