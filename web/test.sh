#!/usr/bin/env bash
# Runs tests/web.rs in headless Chromium on WebGPU: the crate built for
# wasm32, driven by wasm-bindgen-test-runner through chromedriver, with the
# flags in webdriver.json (WebGPU on; SwiftShader where there is no GPU).
#
# Needs Debian's chromium and chromium-driver (apt-get install chromium
# chromium-driver); web/tools.sh adds the wasm32 target and the matching
# wasm-bindgen-cli. Every process the run starts
# is stopped by its process group id when it ends, even on a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

source web/tools.sh

export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-900}
limit=${WEB_TEST_LIMIT:-1500}

cargo build --release --target wasm32-unknown-unknown --test web

# A session of its own: its id is the process group of everything it starts
# (cargo, the runner, chromedriver, Chromium and its helpers).
run_in_session "$limit" cargo test --release --target wasm32-unknown-unknown --test web
