#!/usr/bin/env bash
# The crate against TF.js's WebGPU and CPU backends in one headless Chromium
# run (web/bench.html): prints a Markdown table of GFLOP/s on B2-B10.
# `web/bench.sh [--crate-only] [--force=Direct,TiledGemm,...]`.
set -euo pipefail
cd "$(dirname "$0")/.."
web/build.sh >&2
source web/tools.sh
run_in_session "${WEB_BENCH_LIMIT:-1800}" node web/bench.js "$@"
