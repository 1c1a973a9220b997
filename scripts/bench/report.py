#!/usr/bin/env python3
"""Turns bench.sh's raw results (target, test, pipeline, round, rps per line) into a
table of medians with the MiniRedis/Redis ratio; optionally appends a markdown section
describing the machine and the run to a file."""

import argparse
import datetime
import os
import platform
import statistics
import sys


def read_results(path):
    rows = []
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) == 5:
                parts.append("nan")
            if len(parts) != 6:
                continue
            target, test, pipe, rnd, rps, cpu = parts
            rows.append((target, test, int(pipe), int(rnd), float(rps), float(cpu)))
    return rows


def medians(rows):
    groups = {}
    order = []
    cpus = {}
    for target, test, pipe, _rnd, rps, cpu in rows:
        key = (test, pipe)
        if key not in groups:
            groups[key] = {"MiniRedis": [], "Redis": []}
            cpus[key] = {"MiniRedis": [], "Redis": []}
            order.append(key)
        groups[key][target].append(rps)
        if cpu == cpu:  # not NaN
            cpus[key][target].append(cpu)
    table = []
    for test, pipe in order:
        g = groups[(test, pipe)]
        c = cpus[(test, pipe)]
        mini = statistics.median(g["MiniRedis"]) if g["MiniRedis"] else None
        red = statistics.median(g["Redis"]) if g["Redis"] else None
        ratio = mini / red if mini is not None and red else None
        mcpu = statistics.median(c["MiniRedis"]) if c["MiniRedis"] else None
        rcpu = statistics.median(c["Redis"]) if c["Redis"] else None
        cratio = mcpu / rcpu if mcpu is not None and rcpu else None
        table.append((test.upper(), pipe, mini, red, ratio, mcpu, rcpu, cratio))
    return table


def fmt_us(v):
    return "-" if v is None else f"{v:.2f}"


def fmt_rps(v):
    return "-" if v is None else f"{v:,.0f}"


def fmt_ratio(v):
    return "-" if v is None else f"{v:.2f}"


def text_table(table):
    lines = [f"{'test':<6} {'-P':>3} {'MiniRedis rps':>15} {'Redis rps':>15} {'Mini/Redis':>11}"
             f" {'Mini us CPU':>12} {'Redis us CPU':>13} {'CPU ratio':>10}"]
    for test, pipe, mini, red, ratio, mcpu, rcpu, cratio in table:
        lines.append(f"{test:<6} {pipe:>3} {fmt_rps(mini):>15} {fmt_rps(red):>15} {fmt_ratio(ratio):>11}"
                     f" {fmt_us(mcpu):>12} {fmt_us(rcpu):>13} {fmt_ratio(cratio):>10}")
    return "\n".join(lines)


def markdown_table(table):
    lines = ["| test | pipeline | MiniRedis req/s | Redis req/s | MiniRedis/Redis "
             "| MiniRedis µs CPU/req | Redis µs CPU/req | CPU ratio |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for test, pipe, mini, red, ratio, mcpu, rcpu, cratio in table:
        lines.append(f"| {test} | {pipe} | {fmt_rps(mini)} | {fmt_rps(red)} | {fmt_ratio(ratio)} "
                     f"| {fmt_us(mcpu)} | {fmt_us(rcpu)} | {fmt_ratio(cratio)} |")
    return "\n".join(lines)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    kb = int(line.split()[1])
                    return f"{kb / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", required=True)
    ap.add_argument("--requests", type=int, required=True)
    ap.add_argument("--clients", type=int, required=True)
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--client-threads", type=int, default=1)
    ap.add_argument("--command", default="")
    ap.add_argument("--miniredis-version", default="")
    ap.add_argument("--redis-version", default="")
    ap.add_argument("--git", default="")
    ap.add_argument("--write")
    ap.add_argument("--pinned", action="store_true")
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()

    rows = read_results(a.results)
    if not rows:
        print("report.py: no results", file=sys.stderr)
        return 1
    table = medians(rows)
    bad = [t for t in table if t[2] is None or t[3] is None or t[2] <= 0 or t[3] <= 0]
    cpu_note = ("µs CPU/req is the server process's user+system CPU time during the run divided "
                "by the requests (from /proc/PID/stat, 10 ms ticks); lower is better.")
    label = " (self-test: both columns are redis-server)" if a.selftest else ""
    print(f"\nMedians of {a.rounds} round(s), -n {a.requests} -c {a.clients} "
          f"--threads {a.client_threads}{label}:")
    print(text_table(table))
    if a.write:
        now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        section = [
            f"## {now}{' (smoke run)' if a.smoke else ''}{label}",
            "",
            f"- machine: {os.cpu_count()} cores, {cpu_model()}, {memory()} memory, "
            f"kernel {platform.release()}",
            f"- MiniRedis: {a.miniredis_version or 'n/a'} (git {a.git})",
            f"- Redis: {a.redis_version}",
            f"- command: `{a.command.strip()}`",
            f"- each run: `redis-benchmark -q -c {a.clients} -n min({a.requests}×<pipeline>, 10M) -t <test> -P <pipeline> "
            f"--threads {a.client_threads}`, "
            f"{a.rounds} round(s), the servers alternating who goes first; medians shown"
            + ("; servers pinned to core 0, redis-benchmark to core 1" if a.pinned else
               "; servers and redis-benchmark share the cores"),
            "",
            markdown_table(table),
            "",
            cpu_note,
            "",
        ]
        new_file = not os.path.exists(a.write) or os.path.getsize(a.write) == 0
        os.makedirs(os.path.dirname(os.path.abspath(a.write)), exist_ok=True)
        with open(a.write, "a") as f:
            if new_file:
                f.write("# Benchmarks\n\nMiniRedis and Redis measured side by side by "
                        "`scripts/bench.sh` on the same machine, newest last.\n\n")
            f.write("\n".join(section) + "\n")
        print(f"\nwrote a section to {a.write}")
    if bad:
        print(f"report.py: missing or zero results for {[(t[0], t[1]) for t in bad]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
