#!/usr/bin/env bash
# The MiniRedis test command (CI runs it through .ci/run).
#
# On a fresh Debian machine with the Rust toolchain it installs what is missing
# (redis-server, redis-tools, python3-pip, and redis-py + pytest + celery), builds the release
# binary, runs the Rust tests (cargo test, or cargo nextest when installed), the
# redis-py suite and a benchmark smoke run, and ends with one summary line:
#   test.sh: N passed, M failed
# It exits non-zero if anything failed.
#
# Options:
#   --serial     run the test groups one after another (default: the Rust tests and
#                pytest run side by side once everything is built)
#   --no-lint    skip `cargo fmt --check` and `cargo clippy --all-targets -D warnings`
#                (run by default; --lint is accepted for symmetry)
#   --no-install never install anything; fail if a tool is missing
#   --no-bench   skip the benchmark smoke run
# Environment:
#   CARGO_TARGET_DIR  build cache (default: $HOME/.cache/miniredis/target, outside the clone)
#   MINIREDIS_SUBJECT=redis  test Redis against Redis (the harness's self-test)

set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 2

SERIAL=0
LINT=1
INSTALL=1
BENCH=1
for arg in "$@"; do
    case "$arg" in
        --serial) SERIAL=1 ;;
        --lint) LINT=1 ;;
        --no-lint) LINT=0 ;;
        --no-install) INSTALL=0 ;;
        --no-bench) BENCH=0 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "test.sh: unknown option $arg" >&2; exit 2 ;;
    esac
done

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/miniredis/target}"
mkdir -p "$CARGO_TARGET_DIR"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

LOGDIR="$(mktemp -d "${TMPDIR:-/tmp}/miniredis-test.XXXXXX")"
trap 'rm -rf "$LOGDIR"' EXIT
# Tests append SKIP and @differ notes here, so they show even when the runner hides
# the output of passing tests.
export MINIREDIS_TEST_NOTES="$LOGDIR/notes.txt"
: >"$MINIREDIS_TEST_NOTES"

section() { printf '\n==== %s ====\n' "$*"; }
now() { date +%s; }

# ---------------------------------------------------------------------------------
# Tools

SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
fi

missing_apt=()
command -v redis-server >/dev/null 2>&1 || missing_apt+=(redis-server)
{ command -v redis-cli >/dev/null 2>&1 && command -v redis-benchmark >/dev/null 2>&1; } || missing_apt+=(redis-tools)
command -v python3 >/dev/null 2>&1 || missing_apt+=(python3)
if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
    missing_apt+=(python3-pip)
fi
command -v script >/dev/null 2>&1 || missing_apt+=(bsdutils)
# Node.js and npm: the BullMQ test (tests/node, tests/it/bullmq.rs).
command -v node >/dev/null 2>&1 || missing_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || missing_apt+=(npm)

if [ "${#missing_apt[@]}" -gt 0 ]; then
    if [ "$INSTALL" = 1 ]; then
        section "installing ${missing_apt[*]}"
        $SUDO apt-get update -qq || echo "test.sh: apt-get update failed" >&2
        DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
            "${missing_apt[@]}" || echo "test.sh: apt-get install ${missing_apt[*]} failed" >&2
    else
        echo "test.sh: missing ${missing_apt[*]} and --no-install given" >&2
    fi
fi

# The Debian package may start a redis-server on 6379; the tests use their own ports.

if ! python3 -c 'import redis, pytest, celery, sys; sys.exit(0 if int(redis.__version__.split(".")[0]) >= 5 else 1)' >/dev/null 2>&1; then
    if [ "$INSTALL" = 1 ]; then
        section "installing redis-py, pytest and celery"
        # Celery (with its Redis transport) runs a real worker against MiniRedis in
        # tests/py/test_celery.py.
        pip_args=(-m pip install --quiet --disable-pip-version-check "redis>=5" pytest "celery[redis]")
        if [ "$(id -u)" != 0 ] && [ -z "${VIRTUAL_ENV:-}" ]; then pip_args+=(--user); fi
        if ! python3 "${pip_args[@]}" 2>"$LOGDIR/pip.err"; then
            if grep -q "externally-managed-environment" "$LOGDIR/pip.err"; then
                python3 "${pip_args[@]}" --break-system-packages || true
            else
                cat "$LOGDIR/pip.err" >&2
            fi
        fi
    fi
fi

# BullMQ and node-redis for the Node.js client tests, pinned by tests/node/package-lock.json.
if { [ ! -d "$ROOT/tests/node/node_modules/bullmq" ] || [ ! -d "$ROOT/tests/node/node_modules/redis" ]; } \
    && command -v npm >/dev/null 2>&1; then
    if [ "$INSTALL" = 1 ]; then
        section "installing BullMQ and node-redis (npm install in tests/node, versions from its lockfile)"
        (cd "$ROOT/tests/node" && npm install --no-audit --no-fund --loglevel=error) \
            || echo "test.sh: npm install in tests/node failed" >&2
    fi
fi

for tool in redis-server redis-cli redis-benchmark python3 cargo node; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "test.sh: required tool '$tool' is still missing; the tests that need it will fail" >&2
    fi
done

# ---------------------------------------------------------------------------------
# Results

PASSED=0
FAILED=0
GROUPS_SUMMARY=()

# record NAME STATUS LOG KIND: adds the test counts that LOG's runner (KIND: cargo,
# nextest, pytest or none) reports; a failed group with no counted failure counts as
# one failure, a passed group without counts as one pass.
record() {
    local name="$1" status="$2" log="$3" kind="${4:-none}" p=0 f=0
    if [ "$kind" != none ] && [ -f "$log" ]; then
        read -r p f < <(python3 - "$log" "$kind" <<'PY' 2>/dev/null || echo "0 0"
import re, sys
text = open(sys.argv[1], errors="replace").read()
kind = sys.argv[2]
p = f = 0
if kind == "cargo":
    for m in re.finditer(r"^test result: \w+\. (\d+) passed; (\d+) failed", text, re.M):
        p += int(m.group(1)); f += int(m.group(2))
elif kind == "nextest":
    m = None
    for m in re.finditer(r"^\s*Summary \[.*?\] +\d+ tests? run: (\d+) passed(?:, (\d+) failed)?", text, re.M):
        pass
    if m:
        p, f = int(m.group(1)), int(m.group(2) or 0)
elif kind == "pytest":
    lines = [l for l in text.splitlines() if re.search(r"\d+ (passed|failed|errors?)\b.* in [0-9.]+s", l)]
    if lines:
        for n, what in re.findall(r"(\d+) (passed|failed|errors?)\b", lines[-1]):
            if what == "passed": p += int(n)
            else: f += int(n)
print(p, f)
PY
)
    fi
    if [ "$status" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    if [ "$status" = 0 ] && [ "$p" = 0 ] && [ "$f" = 0 ]; then p=1; fi
    PASSED=$((PASSED + p))
    FAILED=$((FAILED + f))
    local verdict=ok
    [ "$status" != 0 ] && verdict="FAILED (exit $status)"
    GROUPS_SUMMARY+=("$(printf '%-16s %-18s %s passed, %s failed' "$name" "$verdict" "$p" "$f")")
}

# run_logged NAME LOG CMD...: runs a command, output to LOG; returns its status.
run_logged() {
    local name="$1" log="$2"; shift 2
    local start; start=$(now)
    "$@" >"$log" 2>&1
    local st=$?
    echo "$name: exit $st after $(( $(now) - start ))s" >>"$log"
    return $st
}

# ---------------------------------------------------------------------------------
# Build

section "build"
echo "CARGO_TARGET_DIR=$CARGO_TARGET_DIR"
BUILD_OK=1
if [ -f crates/miniredis/Cargo.toml ]; then
    if cargo build --release -p miniredis && cargo build --release -p nodes --example density; then
        export MINIREDIS_BIN="$CARGO_TARGET_DIR/release/miniredis"
    else
        BUILD_OK=0
    fi
    record "release build" $(( 1 - BUILD_OK )) /dev/null
fi

USE_NEXTEST=0
if cargo nextest --version >/dev/null 2>&1; then USE_NEXTEST=1; fi

# Compile the tests up front so the groups below only run them.
if [ "$USE_NEXTEST" = 1 ]; then
    cargo nextest run --workspace --no-run; COMPILE_ST=$?
else
    cargo test --workspace --no-run; COMPILE_ST=$?
fi
if [ "$COMPILE_ST" != 0 ]; then
    record "test build" "$COMPILE_ST" /dev/null
fi

if [ "$LINT" = 1 ]; then
    section "lint"
    cargo fmt --all -- --check; record "cargo fmt" $? /dev/null
    cargo clippy --workspace --all-targets -- -D warnings; record "cargo clippy" $? /dev/null
fi

# ---------------------------------------------------------------------------------
# Test groups

rust_tests() {
    if [ "$USE_NEXTEST" = 1 ]; then
        cargo nextest run --workspace --no-fail-fast
    else
        cargo test --workspace --no-fail-fast
    fi
}

py_tests() {
    if [ -z "${MINIREDIS_BIN:-}" ] && [ "${MINIREDIS_SUBJECT:-}" != redis ]; then
        echo "no miniredis binary (release build failed or crates/miniredis is missing)"
        return 1
    fi
    python3 -m pytest -q -p no:cacheprovider tests/py
}

bench_smoke() {
    if [ -z "${MINIREDIS_BIN:-}" ] && [ "${MINIREDIS_SUBJECT:-}" != redis ]; then
        echo "no miniredis binary (release build failed or crates/miniredis is missing)"
        return 1
    fi
    scripts/bench.sh --smoke --no-build && scripts/bench-tenancy.py all --smoke --no-build \
        && scripts/mem-types.py --smoke --no-build
}

RUST_LOG_F="$LOGDIR/rust.log"
PY_LOG_F="$LOGDIR/pytest.log"
BENCH_LOG_F="$LOGDIR/bench.log"

if [ "$SERIAL" = 1 ]; then
    section "cargo test"
    run_logged "rust tests" "$RUST_LOG_F" rust_tests; RUST_ST=$?
    cat "$RUST_LOG_F"
    section "pytest tests/py"
    run_logged "pytest" "$PY_LOG_F" py_tests; PY_ST=$?
    cat "$PY_LOG_F"
else
    section "cargo test and pytest, side by side"
    run_logged "rust tests" "$RUST_LOG_F" rust_tests &
    RUST_PID=$!
    run_logged "pytest" "$PY_LOG_F" py_tests &
    PY_PID=$!
    wait "$RUST_PID"; RUST_ST=$?
    wait "$PY_PID"; PY_ST=$?
    section "cargo test"
    cat "$RUST_LOG_F"
    section "pytest tests/py"
    cat "$PY_LOG_F"
fi
if [ "$USE_NEXTEST" = 1 ]; then RUST_KIND=nextest; else RUST_KIND=cargo; fi
record "rust tests" "$RUST_ST" "$RUST_LOG_F" "$RUST_KIND"
record "pytest" "$PY_ST" "$PY_LOG_F" pytest

if [ "$BENCH" = 1 ]; then
    # After the tests, never beside them: even a smoke run loads both cores.
    section "benchmark smoke"
    run_logged "bench smoke" "$BENCH_LOG_F" bench_smoke; BENCH_ST=$?
    cat "$BENCH_LOG_F"
    record "bench smoke" "$BENCH_ST" /dev/null
fi

section "summary"
if [ -s "$MINIREDIS_TEST_NOTES" ]; then
    echo "notes from the tests (skips and known differences):"
    sort -u "$MINIREDIS_TEST_NOTES" | sed 's/^/  /'
fi
for line in "${GROUPS_SUMMARY[@]}"; do echo "  $line"; done
echo "test.sh: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
