#!/usr/bin/env bash
# Builds the page and serves it on localhost: open http://localhost:8000/web/
# in a browser with WebGPU (`web/serve.sh [PORT]`).
set -euo pipefail
cd "$(dirname "$0")/.."
web/build.sh
exec node web/serve.js "${1:-8000}"
