#!/usr/bin/env bash
# Builds the page's wasm module (web/app) into web/pkg with wasm-bindgen, and
# the page's npm tools into web/node_modules (Playwright, TF.js for the
# benchmark) when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
source web/tools.sh

cargo build --release --target wasm32-unknown-unknown -p conv2d-wgpu-web
wasm-bindgen --target web --no-typescript --out-dir web/pkg \
  target/wasm32-unknown-unknown/release/conv2d_wgpu_web.wasm
[ -d web/node_modules ] || (cd web && npm ci --no-audit --no-fund)
