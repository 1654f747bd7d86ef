#!/usr/bin/env bash
# Fuzz smoke run: every cargo-fuzz target for FUZZ_SECONDS (default 60) each,
# starting from the committed corpus. New inputs go to a scratch directory, so
# the committed corpus is never modified. Skipped (exit 0, with the reason) when
# a nightly toolchain or cargo-fuzz is missing. A crash fails the run and leaves
# its reproducer under fuzz/artifacts/<target>/ (see docs/FUZZING.md).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
targets=(decode_block apply_sequence replay_log scenario_json commute)

skip() {
    echo "fuzz smoke skipped: $*"
    exit 0
}

cargo +nightly --version >/dev/null 2>&1 || skip "no nightly toolchain (rustup toolchain install nightly)"
cargo fuzz --version >/dev/null 2>&1 || skip "cargo-fuzz is not installed (cargo install cargo-fuzz)"

echo "fuzz smoke: $(cargo +nightly --version), $(cargo fuzz --version), ${seconds}s per target"
cargo +nightly fuzz build -O

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
    mkdir -p "$scratch/$t"
    extra=()
    if [ -f "fuzz/dict/$t.dict" ]; then
        extra+=("-dict=fuzz/dict/$t.dict")
    fi
    echo "==> fuzz $t (${seconds}s)"
    status=0
    cargo +nightly fuzz run -O "$t" "$scratch/$t" "fuzz/corpus/$t" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 \
        -print_final_stats=1 ${extra[@]+"${extra[@]}"} >"$scratch/$t.log" 2>&1 || status=$?
    grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb|#[0-9]+ +DONE)' "$scratch/$t.log" || true
    if [ "$status" -ne 0 ]; then
        tail -n 60 "$scratch/$t.log"
        echo "fuzz smoke: $t FAILED (exit $status; reproducer in fuzz/artifacts/$t/)"
        exit 1
    fi
done
echo "fuzz smoke: all ${#targets[@]} targets ran ${seconds}s without a crash"
