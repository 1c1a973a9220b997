#!/usr/bin/env bash
# Runs every cargo-fuzz target for a while: scripts/fuzz.sh [seconds-per-target]
# (default 60). Exits non-zero as soon as a target finds a crash; the crashing input
# is left in fuzz/artifacts/<target>/. Needs the nightly toolchain and cargo-fuzz.
set -euo pipefail

seconds="${1:-60}"
cd "$(dirname "$0")/../fuzz"

targets=(request_decoder frame_parser rdb_reader listpack node_record)
for target in "${targets[@]}"; do
    echo "==> fuzzing ${target} for ${seconds}s"
    mkdir -p "corpus/${target}"
    if ! cargo +nightly fuzz run "${target}" "corpus/${target}" -- \
        -max_total_time="${seconds}" -rss_limit_mb=2048; then
        echo "fuzz target ${target} failed; see fuzz/artifacts/${target}/" >&2
        exit 1
    fi
done
echo "==> all fuzz targets ran ${seconds}s without a crash"
