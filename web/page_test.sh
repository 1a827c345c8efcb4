#!/usr/bin/env bash
# The page's browser test: builds web/ (web/build.sh), then web/page_test.js
# clicks through every filter in headless Chromium on WebGPU, checks each
# result against the CPU reference on the page, and saves a screenshot
# (docs/web_page.png, or the path given). Needs Debian's chromium and Node.js.
set -euo pipefail
cd "$(dirname "$0")/.."
web/build.sh
source web/tools.sh
run_in_session "${WEB_TEST_LIMIT:-600}" node web/page_test.js "$@"
