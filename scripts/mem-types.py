#!/usr/bin/env python3
"""Memory of small collections: MiniRedis (`miniredis node`) and Redis side by side, in
one run, on this machine. Not a test: only --smoke is part of scripts/test.sh.

For each data set, both servers start empty; the script reads `used_memory`, loads the
same keys into both (pipelined, through redis-py), reads `used_memory` again and
reports bytes per key and the ratio MiniRedis/Redis. Goal: at most 1.2x.

  hash        N hashes of 10 fields   (field:J -> value:I:J)
  set         N sets of 10 members    (member:J, strings: Redis's hashtable encoding)
  intset      N sets of 10 integers   (Redis's intset encoding)
  zset        N sorted sets of 10 members (member:J with score J*1.5)

Options: --keys N (default 100000), --rounds R (default 3; medians reported),
--only LIST (comma-separated data sets), --check (exit 1 if a median ratio is
above 1.2), --smoke (2000 keys, 1 round, no check), --write FILE (append a markdown
section, e.g. docs/benchmarks.md), --no-build.
Servers listen on 127.0.0.1 only.
"""

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/miniredis/target"))
GOAL = 1.2
SETS = ["hash", "set", "intset", "zset"]


def die(msg):
    print(f"mem-types: {msg}", file=sys.stderr)
    sys.exit(2)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd, port, log):
    import redis

    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            if client.ping():
                return proc, client
        except redis.exceptions.ConnectionError:
            time.sleep(0.05)
        if proc.poll() is not None:
            break
    proc.kill()
    die(f"{cmd[0]} did not start on port {port}")


def used(client):
    # Settle: Redis frees lazily in the background; read twice a little apart.
    time.sleep(0.2)
    return int(client.info("memory")["used_memory"])


def load(client, kind, n):
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        if kind == "hash":
            pipe.hset(f"hash:{i}", mapping={f"field:{j}": f"value:{i}:{j}" for j in range(10)})
        elif kind == "set":
            pipe.sadd(f"set:{i}", *[f"member:{j}" for j in range(10)])
        elif kind == "intset":
            pipe.sadd(f"intset:{i}", *[i * 10 + j for j in range(10)])
        elif kind == "zset":
            pipe.zadd(f"zset:{i}", {f"member:{j}": j * 1.5 for j in range(10)})
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    if client.dbsize() != n:
        die(f"{kind}: expected {n} keys, found {client.dbsize()}")


def encoding(client, kind):
    return client.object("encoding", f"{kind}:0").decode()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--keys", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--only", default=",".join(SETS))
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--write")
    ap.add_argument("--no-build", action="store_true")
    a = ap.parse_args()
    if a.smoke:
        a.keys, a.rounds, a.check = 2000, 1, False
    if not 0 < a.keys <= 1_000_000:
        die("--keys must be between 1 and 1000000")
    kinds = [k for k in a.only.split(",") if k]
    for k in kinds:
        if k not in SETS:
            die(f"unknown data set {k} (one of {', '.join(SETS)})")
    try:
        import redis  # noqa: F401
    except ImportError:
        die("needs redis-py (pip install redis)")
    binary = os.environ.get("MINIREDIS_BIN", os.path.join(TARGET, "release", "miniredis"))
    if not a.no_build and "MINIREDIS_BIN" not in os.environ:
        subprocess.run(["cargo", "build", "--release", "-p", "miniredis"], cwd=ROOT, check=True,
                       env={**os.environ, "CARGO_TARGET_DIR": TARGET})
    if not os.access(binary, os.X_OK):
        die(f"no miniredis binary at {binary}")

    results = {k: {"MiniRedis": [], "Redis": []} for k in kinds}
    encodings = {}
    with tempfile.TemporaryDirectory(prefix="miniredis-mem.") as work:
        log = open(os.path.join(work, "servers.log"), "w")
        for rnd in range(a.rounds):
            for kind in kinds:
                for name in ("MiniRedis", "Redis"):
                    port = free_port()
                    d = os.path.join(work, f"{name}-{rnd}-{kind}")
                    os.makedirs(d)
                    if name == "MiniRedis":
                        cmd = [binary, "node", "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--dir", d]
                    else:
                        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--dir", d]
                    proc, client = start(cmd, port, log)
                    try:
                        before = used(client)
                        load(client, kind, a.keys)
                        after = used(client)
                        encodings[(kind, name)] = encoding(client, kind)
                    finally:
                        proc.terminate()
                        proc.wait(timeout=10)
                    per_key = (after - before) / a.keys
                    results[kind][name].append(per_key)
                    print(f"  round {rnd + 1} {kind:<7} {name:<9} {per_key:8.1f} B/key "
                          f"({encodings[(kind, name)]})", file=sys.stderr)

    rows = []
    worst = 0.0
    for kind in kinds:
        m = statistics.median(results[kind]["MiniRedis"])
        r = statistics.median(results[kind]["Redis"])
        ratio = m / r if r > 0 else float("inf")
        worst = max(worst, ratio)
        rows.append((kind, encodings[(kind, "MiniRedis")], encodings[(kind, "Redis")], m, r, ratio))
    table = ["| data set | encoding (MiniRedis / Redis) | MiniRedis B/key | Redis B/key | ratio |",
             "| --- | --- | ---: | ---: | ---: |"]
    for kind, em, er, m, r, ratio in rows:
        table.append(f"| {kind} | {em} / {er} | {m:.1f} | {r:.1f} | {ratio:.2f} |")
    print("\n".join(table))
    if a.write:
        redis_version = subprocess.run(["redis-server", "--version"], capture_output=True,
                                       text=True).stdout.strip()
        with open(a.write, "a") as f:
            f.write(f"\n## Memory of small collections ({time.strftime('%Y-%m-%d')})\n\n")
            f.write(f"`scripts/mem-types.py --keys {a.keys} --rounds {a.rounds}` on "
                    f"{os.cpu_count()} cores, {platform.machine()}, {redis_version}. "
                    f"used_memory after loading minus before, per key, medians of "
                    f"{a.rounds} rounds.\n\n")
            f.write("\n".join(table) + "\n")
    if a.check and worst > GOAL:
        print(f"mem-types: a ratio is above {GOAL}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
