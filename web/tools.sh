# Sourced by the web scripts: adds the wasm32 target and installs the
# wasm-bindgen-cli that matches Cargo.lock when they are missing.
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
if ! wasm-bindgen --version 2>/dev/null | grep -qF "$version" ||
  ! wasm-bindgen-test-runner --version 2>/dev/null | grep -qF "$version"; then
  # Not --locked: one of its locked dependencies is newer than crates.io offers.
  cargo install wasm-bindgen-cli --version "$version"
fi
rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# run_in_session LIMIT COMMAND...: runs COMMAND in a session of its own under
# `timeout LIMIT`, and stops whatever it leaves (Chromium and its helpers) by
# that session's id when it ends, even on a timeout or an interrupt.
run_in_session() {
  local limit=$1
  shift
  setsid timeout "$limit" "$@" &
  session_leader=$!
  trap stop_session EXIT
  wait "$session_leader"
}

stop_session() {
  local left
  left=$(pgrep -s "$session_leader" || true)
  if [ -n "$left" ]; then
    echo "$0: stopping what the run left: $(echo $left)"
    kill $left 2>/dev/null || true
    sleep 1
    kill -9 $(pgrep -s "$session_leader" || true) 2>/dev/null || true
  fi
}
