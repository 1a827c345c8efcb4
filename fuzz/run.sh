#!/usr/bin/env bash
# Runs each fuzz target for a fixed time (seconds, default 60) and prints its
# execution count; any crash stops the script with the input saved under
# fuzz/artifacts/TARGET/ (turn it into a test in tests/fuzz_regressions.rs).
#   fuzz/run.sh [SECONDS] [TARGET...]     (targets: layer_cpu npy_load gpu_forward)
# FUZZ_RUNS=N FUZZ_SEED=S: N executions from seed S on a fresh corpus instead,
# the same run every time (what CI does).
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# gpu_forward needs a wgpu adapter (llvmpipe will do) and runs without
# AddressSanitizer, which the Vulkan and GL drivers are not built for.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(layer_cpu npy_load gpu_forward)
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
for target in "${targets[@]}"; do
  sanitizer=address
  [ "$target" = gpu_forward ] && sanitizer=none
  mkdir -p "corpus/$target"
  log=$(mktemp)
  # Past crashes first: each must now pass.
  if compgen -G "regressions/$target-*" >/dev/null; then
    cargo +nightly fuzz run -s "$sanitizer" "$target" regressions/"$target"-* >"$log" 2>&1 ||
      { cat "$log"; echo "fuzz: $target fails on a saved regression" >&2; exit 1; }
  fi
  seeds=()
  [ -d "seeds/$target" ] && seeds=("seeds/$target")
  corpus="corpus/$target"
  limit=(-max_total_time="$seconds")
  if [ -n "${FUZZ_RUNS:-}" ]; then
    corpus=$(mktemp -d)
    limit=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
  fi
  cargo +nightly fuzz run -s "$sanitizer" "$target" "$corpus" "${seeds[@]}" -- \
    "${limit[@]}" -rss_limit_mb=4096 -print_final_stats=1 >"$log" 2>&1 ||
    { grep -A8 -m1 'panicked at\|ERROR:' "$log"; tail -n 30 "$log"; echo "fuzz: $target crashed" >&2; exit 1; }
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  echo "fuzz: $target ran $runs executions, no crash"
  rm -f "$log"
done
