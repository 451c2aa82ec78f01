#!/usr/bin/env bash
# Regenerates the bundled demo store (assets/demo/mlruns) with mlscope's own writer.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo run --quiet --example make_demo -- assets/demo/mlruns
du -sh assets/demo/mlruns
