#!/usr/bin/env bash
# Runs tests/web.rs in headless Chromium on WebGPU: the crate built for
# wasm32, driven by wasm-bindgen-test-runner through chromedriver, with the
# flags in webdriver.json (WebGPU on; SwiftShader where there is no GPU).
#
# Needs Debian's chromium and chromium-driver (apt-get install chromium
# chromium-driver). Adds the wasm32 target and installs the wasm-bindgen-cli
# that matches Cargo.lock when they are missing. Every process the run starts
# is stopped by its process group id when it ends, even on a timeout.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen-test-runner --version 2>/dev/null | grep -qF "$version"; then
  # Not --locked: one of its locked dependencies is newer than crates.io offers.
  cargo install wasm-bindgen-cli --version "$version"
fi
rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-900}
limit=${WEB_TEST_LIMIT:-1500}

cargo build --release --target wasm32-unknown-unknown --test web

# A session of its own: its id is the process group of everything it starts
# (cargo, the runner, chromedriver, Chromium and its helpers).
setsid timeout "$limit" cargo test --release --target wasm32-unknown-unknown --test web &
leader=$!
cleanup() {
  local left
  left=$(pgrep -s "$leader" || true)
  if [ -n "$left" ]; then
    echo "web/test.sh: stopping what the run left: $(echo $left)"
    kill $left 2>/dev/null || true
    sleep 1
    kill -9 $(pgrep -s "$leader" || true) 2>/dev/null || true
  fi
}
trap cleanup EXIT
wait "$leader"
