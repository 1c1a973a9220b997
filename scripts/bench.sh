#!/usr/bin/env bash
# Benchmarks MiniRedis against Debian's redis-server with redis-benchmark, side by side
# on this machine, and prints a table (requests per second, medians over rounds, and
# the ratio MiniRedis/Redis). Not a test: only the --smoke mode is part of
# scripts/test.sh, to prove the script runs.
#
# Usage: scripts/bench.sh [options]
#   --tests LIST      redis-benchmark tests, comma-separated (default:
#                     set,get,incr,mset,lpush,lpop,sadd,hset,zadd,xadd)
#   --pipeline LIST   pipeline depths, comma-separated (default: 1,16)
#   --requests N      requests per run at -P 1 (default: 200000); a run at -P p sends
#                     N*p (at most 10 million), so deep pipelines run long enough for
#                     redis-benchmark's millisecond timer
#   --clients C       parallel connections (default: 50)
#   --rounds R        rounds; each runs every test on both servers, alternating which
#                     goes first (default: 3)
#   --smoke           tiny run: 2000 requests, 1 round; checks that results parse
#   --write FILE      append a markdown section (date, machine, versions, command
#                     line, results) to FILE, e.g. docs/benchmarks.md
#   --client-threads N  redis-benchmark threads (default: the number of cores). One
#                     client thread saturates its core before either server does at
#                     -P 1, so the comparison would measure the client; with one per
#                     core the servers are the bottleneck.
#   --pin             pin the servers to core 0 and redis-benchmark to core 1 (taskset)
#   --no-build        use $MINIREDIS_BIN or the existing release binary; do not build
# Environment: CARGO_TARGET_DIR (default $HOME/.cache/miniredis/target), MINIREDIS_BIN,
#   MINIREDIS_SUBJECT=redis (benchmark redis-server against itself: a self-test).

set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CMDLINE="scripts/bench.sh $*"

TESTS="set,get,incr,mset,lpush,lpop,sadd,hset,zadd,xadd"
PIPELINES="1,16"
REQUESTS=200000
CLIENT_THREADS=$(nproc 2>/dev/null || echo 1)
CLIENTS=50
ROUNDS=3
SMOKE=0
WRITE=""
PIN=0
BUILD=1

die() { echo "bench.sh: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
    case "$1" in
        --tests) TESTS="${2:?--tests needs a list}"; shift 2 ;;
        --pipeline) PIPELINES="${2:?--pipeline needs a list}"; shift 2 ;;
        --requests) REQUESTS="${2:?--requests needs a number}"; shift 2 ;;
        --clients) CLIENTS="${2:?--clients needs a number}"; shift 2 ;;
        --rounds) ROUNDS="${2:?--rounds needs a number}"; shift 2 ;;
        --smoke) SMOKE=1; shift ;;
        --write) WRITE="${2:?--write needs a file}"; shift 2 ;;
        --client-threads) CLIENT_THREADS="${2:?--client-threads needs a number}"; shift 2 ;;
        --pin) PIN=1; shift ;;
        --no-build) BUILD=0; shift ;;
        -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done
if [ "$SMOKE" = 1 ]; then
    REQUESTS=2000
    ROUNDS=1
fi
[[ "$REQUESTS" =~ ^[0-9]+$ && "$REQUESTS" -gt 0 ]] || die "--requests must be a positive integer"
[[ "$ROUNDS" =~ ^[0-9]+$ && "$ROUNDS" -gt 0 ]] || die "--rounds must be a positive integer"
[[ "$CLIENTS" =~ ^[0-9]+$ && "$CLIENTS" -gt 0 ]] || die "--clients must be a positive integer"
[[ "$CLIENT_THREADS" =~ ^[0-9]+$ && "$CLIENT_THREADS" -gt 0 ]] || die "--client-threads must be a positive integer"
# Bounded: at most 10 million requests per run.
[ "$REQUESTS" -le 10000000 ] || die "--requests is capped at 10000000"

for tool in redis-server redis-cli redis-benchmark python3; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (apt-get install redis-server redis-tools python3)"
done
SERVER_PIN=()
CLIENT_PIN=()
if [ "$PIN" = 1 ]; then
    command -v taskset >/dev/null 2>&1 || die "--pin needs taskset (util-linux)"
    [ "$(nproc)" -ge 2 ] || die "--pin needs at least 2 cores"
    SERVER_PIN=(taskset -c 0)
    CLIENT_PIN=(taskset -c 1)
fi

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/miniredis/target}"
SELFTEST=0
if [ "${MINIREDIS_SUBJECT:-}" = redis ]; then
    SELFTEST=1
    echo "bench.sh: MINIREDIS_SUBJECT=redis: the 'MiniRedis' column is a second redis-server" >&2
elif [ "$BUILD" = 1 ]; then
    cargo build --release -p miniredis >&2
    MINIREDIS_BIN="$CARGO_TARGET_DIR/release/miniredis"
else
    MINIREDIS_BIN="${MINIREDIS_BIN:-$CARGO_TARGET_DIR/release/miniredis}"
fi
if [ "$SELFTEST" = 0 ]; then
    [ -x "$MINIREDIS_BIN" ] || die "no miniredis binary at $MINIREDIS_BIN (build with: cargo build --release -p miniredis)"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/miniredis-bench.XXXXXX")"
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# start NAME PORT CMD...: starts a server in the background, waits for PING.
start() {
    local name="$1" port="$2"; shift 2
    "${SERVER_PIN[@]}" "$@" >"$WORK/$name.log" 2>&1 &
    PIDS+=($!)
    local pid=$!
    for _ in $(seq 1 200); do
        if [ "$(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" = PONG ]; then
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    echo "bench.sh: $name did not start on port $port; its log:" >&2
    cat "$WORK/$name.log" >&2
    exit 1
}

MINI_PORT=$(free_port)
mkdir -p "$WORK/mini" "$WORK/redis"
if [ "$SELFTEST" = 1 ]; then
    start miniredis "$MINI_PORT" redis-server --port "$MINI_PORT" --bind 127.0.0.1 \
        --save "" --appendonly no --dir "$WORK/mini"
else
    start miniredis "$MINI_PORT" "$MINIREDIS_BIN" node --port "$MINI_PORT" --bind 127.0.0.1 \
        --save "" --appendonly no --dir "$WORK/mini"
fi
MINI_PID=${PIDS[-1]}
REDIS_PORT=$(free_port)
start redis "$REDIS_PORT" redis-server --port "$REDIS_PORT" --bind 127.0.0.1 \
    --save "" --appendonly no --dir "$WORK/redis"
REDIS_PID=${PIDS[-1]}

# cpu_ticks PID: user+system CPU time of a process (all its threads), in clock ticks.
# CPU time per request does not depend on how busy the client or the machine is, so it
# is the steadier figure when the throughput is bound by the single-threaded client.
cpu_ticks() {
    awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat" 2>/dev/null || echo 0
}
TICK_US=$(( 1000000 / $(getconf CLK_TCK) ))

RESULTS="$WORK/results.tsv"
: >"$RESULTS"
IFS=, read -r -a TEST_LIST <<<"$TESTS"
IFS=, read -r -a PIPE_LIST <<<"$PIPELINES"

# bench TARGET PORT TEST PIPELINE ROUND: one redis-benchmark run, one line in RESULTS.
bench() {
    local target="$1" port="$2" test="$3" pipe="$4" round="$5" out pid
    local n=$(( REQUESTS * pipe ))
    [ "$n" -le 10000000 ] || n=10000000
    if [ "$target" = MiniRedis ]; then pid=$MINI_PID; else pid=$REDIS_PID; fi
    local t0; t0=$(cpu_ticks "$pid")
    # redis-benchmark 7.0 has no built-in XADD test: it runs as a command (a stream
    # kept near 100k entries, so long runs stay bounded in memory).
    local what=(-t "$test")
    case "$test" in
        xadd) what=(XADD bench:stream MAXLEN '~' 100000 '*' field value) ;;
    esac
    if ! out=$(timeout 600 "${CLIENT_PIN[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -q --csv \
            -c "$CLIENTS" -n "$n" -P "$pipe" --threads "$CLIENT_THREADS" "${what[@]}" \
            2>"$WORK/bench.err"); then
        echo "bench.sh: redis-benchmark failed for $target $test -P $pipe:" >&2
        cat "$WORK/bench.err" >&2
        exit 1
    fi
    # CSV: "test","rps",... with a header line in newer versions.
    local rps
    rps=$(printf '%s\n' "$out" | python3 -c '
import csv, sys
rows = [r for r in csv.reader(sys.stdin) if r and r[0] != "test"]
print(rows[-1][1] if rows else "")')
    if ! [[ "$rps" =~ ^[0-9]+(\.[0-9]+)?$ ]]; then
        echo "bench.sh: cannot read requests/s from redis-benchmark output for $target $test -P $pipe:" >&2
        printf '%s\n' "$out" >&2
        exit 1
    fi
    local t1; t1=$(cpu_ticks "$pid")
    local cpu_us
    cpu_us=$(python3 -c "print(f'{($t1 - $t0) * $TICK_US / $n:.3f}')")
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$target" "$test" "$pipe" "$round" "$rps" "$cpu_us" >>"$RESULTS"
    printf '  round %s  %-5s -P %-3s %-9s %12s req/s %8s us CPU/req\n' "$round" "$test" "$pipe" "$target" "$rps" "$cpu_us" >&2
}

echo "bench.sh: MiniRedis on $MINI_PORT, Redis on $REDIS_PORT; $ROUNDS round(s) of -n $REQUESTS -c $CLIENTS" >&2
for round in $(seq 1 "$ROUNDS"); do
    for test in "${TEST_LIST[@]}"; do
        for pipe in "${PIPE_LIST[@]}"; do
            # Alternate which server goes first, so drift (thermal, caches) is shared.
            if [ $((round % 2)) = 1 ]; then
                bench MiniRedis "$MINI_PORT" "$test" "$pipe" "$round"
                bench Redis "$REDIS_PORT" "$test" "$pipe" "$round"
            else
                bench Redis "$REDIS_PORT" "$test" "$pipe" "$round"
                bench MiniRedis "$MINI_PORT" "$test" "$pipe" "$round"
            fi
        done
    done
done

# Both servers must still be alive after the load.
for port in "$MINI_PORT" "$REDIS_PORT"; do
    [ "$(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" = PONG ] || {
        echo "bench.sh: the server on port $port no longer answers PING" >&2
        exit 1
    }
done

REPORT_ARGS=(--results "$RESULTS" --requests "$REQUESTS" --clients "$CLIENTS" --rounds "$ROUNDS"
    --client-threads "$CLIENT_THREADS"
    --command "$CMDLINE")
[ "$PIN" = 1 ] && REPORT_ARGS+=(--pinned)
[ "$SELFTEST" = 1 ] && REPORT_ARGS+=(--selftest)
if [ "$SELFTEST" = 0 ]; then
    REPORT_ARGS+=(--miniredis-version "$("$MINIREDIS_BIN" --version 2>/dev/null | head -n1 || echo unknown)")
fi
REPORT_ARGS+=(--redis-version "$(redis-server --version | head -n1)")
REPORT_ARGS+=(--git "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)")
[ -n "$WRITE" ] && REPORT_ARGS+=(--write "$WRITE")
[ "$SMOKE" = 1 ] && REPORT_ARGS+=(--smoke)
python3 "$ROOT/scripts/bench/report.py" "${REPORT_ARGS[@]}"
