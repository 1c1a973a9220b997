#!/usr/bin/env python3
"""Multi-tenant benchmarks: MiniRedis's `miniredis server` and Redis side by side,
in one run, on this machine. Not a test: only --smoke is part of scripts/test.sh.

  scripts/bench-tenancy.py door      front door vs. a database's own port vs. Redis
                                     (redis-benchmark SET/GET at -P 1 and -P 16;
                                     goal: the front door within 5% of the own port)
  scripts/bench-tenancy.py fairness  p99 latency of a light probe on database B while
                                     database A is driven flat out, against the same
                                     with A and B as two Redis processes (goal: no
                                     worse than Redis)
  scripts/bench-tenancy.py density   1,000 idle databases in one process: creation
                                     time and RSS, against the RSS of idle
                                     redis-server processes (goal: < 150 MB in all,
                                     < 10 ms per database)
  scripts/bench-tenancy.py all       the three

Options: --rounds R (default 3; medians are reported), --autogroup as-is|off|both
(fairness: the kernel's per-session CPU groups; see docs/benchmarks.md), --requests N (door, per run at
-P 1; -P 16 sends 16x, at most 10M), --databases N (density, default 1000),
--smoke (tiny runs that prove the script works), --write FILE (append a markdown
section to FILE, e.g. docs/benchmarks.md), --no-build.
Load goes to 127.0.0.1 only; every run is bounded in requests and time.
"""

import argparse
import csv
import io
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/miniredis/target"))
PROCS = []


def die(msg):
    print(f"bench-tenancy: {msg}", file=sys.stderr)
    sys.exit(2)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_range(n):
    """`n` consecutive free loopback ports below the kernel's ephemeral range, so no
    client socket is handed one of them as its local port in the meantime."""
    import random
    for _ in range(1000):
        base = random.randrange(20000, 32000 - n)
        ok = True
        for p in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError(f"no {n} consecutive free ports")


def wait_ping(port, password=None, user=None, timeout=30):
    args = ["redis-cli", "-p", str(port), "--no-auth-warning"]
    if user:
        args += ["--user", user]
    if password:
        args += ["--pass", password]
    deadline = time.time() + timeout
    while time.time() < deadline:
        r = subprocess.run(args + ["PING"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            return
        time.sleep(0.05)
    die(f"nothing answers PING on port {port}")


def spawn(args, env=None, log=None):
    p = subprocess.Popen(args, stdout=log or subprocess.DEVNULL, stderr=subprocess.STDOUT,
                         env=env, start_new_session=True)
    PROCS.append(p)
    return p


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def cleanup():
    for p in PROCS:
        if p.poll() is None:
            p.kill()
            p.wait()


def redis_server(work, name, password):
    port = free_port()
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    p = spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--dir", d, "--requirepass", password])
    wait_ping(port, password)
    return p, port


def miniredis_server(binary, work, dbs):
    """`miniredis server` with declared databases on fixed ports; returns
    (process, front door port, {name: port})."""
    front = free_port()
    base = free_range(len(dbs) + 2)
    conf = os.path.join(work, "miniredis.toml")
    ports = {}
    with open(conf, "w") as f:
        f.write(f'front_door_port = {front}\ndata_dir = "{work}/data"\n')
        f.write(f"port_start = {base}\nport_end = {base + len(dbs) + 1}\n")
        for i, (name, pw) in enumerate(dbs):
            ports[name] = base + i
            f.write(f'[[database]]\nname = "{name}"\npassword = "{pw}"\nport = {base + i}\n')
    env = dict(os.environ)
    for k in ("REDIS_PORT_START", "REDIS_PORT_END"):
        env.pop(k, None)
    log = open(os.path.join(work, "miniredis.log"), "w")
    p = spawn([binary, "server", "--config", conf, "--log-level", "warn"], env=env, log=log)
    for name, pw in dbs:
        wait_ping(ports[name], pw)
        wait_ping(front, pw, user=name)
    return p, front, ports


def benchmark(port, test, pipeline, n, clients=50, threads=None, password=None, user=None):
    """One redis-benchmark run; returns the CSV row as a dict."""
    args = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-q", "--csv",
            "-c", str(clients), "-n", str(n), "-t", test, "-P", str(pipeline)]
    if threads:
        args += ["--threads", str(threads)]
    if user:
        args += ["--user", user]
    if password:
        args += ["-a", password]
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        die(f"redis-benchmark failed: {r.stderr.strip()}")
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    if not rows:
        die(f"cannot parse redis-benchmark output: {r.stdout!r}")
    return rows[-1]


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def mode_door(binary, work, a):
    pw = "door-secret"
    mini, front, ports = miniredis_server(binary, work, [("bench", pw)])
    redis, rport = redis_server(work, "redis-door", pw)
    threads = os.cpu_count() or 1
    targets = [("own port", ports["bench"], None), ("front door", front, "bench"),
               ("Redis", rport, None)]
    res = {}
    for rnd in range(a.rounds):
        order = targets if rnd % 2 == 0 else list(reversed(targets))
        for test in ("set", "get"):
            for pl in (1, 16):
                n = min(a.requests * pl, 10_000_000)
                for name, port, user in order:
                    row = benchmark(port, test, pl, n, threads=threads, password=pw, user=user)
                    rps = float(row["rps"])
                    res.setdefault((test, pl, name), []).append(rps)
                    print(f"  round {rnd + 1} {test:>3} -P {pl:<2} {name:<10} {rps:>12.0f} req/s",
                          file=sys.stderr)
    stop(mini)
    stop(redis)
    lines = ["| test | pipeline | own port (req/s) | front door (req/s) | Redis (req/s) "
             "| front door / own port | own port / Redis |",
             "|---|---|---|---|---|---|---|"]
    for test in ("set", "get"):
        for pl in (1, 16):
            own = median(res[(test, pl, "own port")])
            door = median(res[(test, pl, "front door")])
            red = median(res[(test, pl, "Redis")])
            lines.append(f"| {test.upper()} | {pl} | {own:,.0f} | {door:,.0f} | {red:,.0f} "
                         f"| {door / own:.3f} | {own / red:.2f} |")
    return "Front door vs. own port vs. Redis", lines


def probe(port, pw, n):
    row = benchmark(port, "get", 1, n, clients=1, password=pw)
    return float(row["p99_latency_ms"]), float(row["p50_latency_ms"])


def loaded_probe(load_port, probe_port, pw, a):
    """p99 of the probe on `probe_port` while `load_port` is driven flat out."""
    heavy_n = 2_000_000 if not a.smoke else 200_000
    args = ["redis-benchmark", "-h", "127.0.0.1", "-p", str(load_port), "-q", "-a", pw,
            "-c", "50", "-P", "16", "-n", str(heavy_n), "-t", "set,get", "-l"]
    heavy = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    PROCS.append(heavy)
    try:
        time.sleep(1.0)
        if heavy.poll() is not None:
            die("the load generator ended early")
        return probe(probe_port, pw, a.probe_requests)
    finally:
        heavy.kill()
        heavy.wait()


AUTOGROUP = "/proc/sys/kernel/sched_autogroup_enabled"


def autogroup():
    try:
        with open(AUTOGROUP) as f:
            return f.read().strip() == "1"
    except OSError:
        return None


def set_autogroup(on):
    with open(AUTOGROUP, "w") as f:
        f.write("1" if on else "0")


def mode_fairness(binary, work, a):
    """Runs the fairness comparison under the scheduler settings asked for."""
    before = autogroup()
    settings = {"as-is": [before], "off": [False], "both": [True, False]}[a.autogroup]
    if settings != [before] and os.geteuid() != 0:
        die("--autogroup off/both changes kernel.sched_autogroup_enabled and needs root")
    lines, title = [], "Fairness: a light probe beside a flat-out neighbour"
    try:
        for on in settings:
            if on is not None and on != autogroup():
                set_autogroup(on)
            label = {True: "on", False: "off", None: "unknown"}[autogroup()]
            lines += [f"Scheduler autogroup: **{label}**.", ""] + fairness_once(binary, work, a) + [""]
    finally:
        if before is not None and autogroup() != before:
            set_autogroup(before)
    return title, lines


def fairness_once(binary, work, a):
    pw = "fair-secret"
    mini, _front, ports = miniredis_server(binary, work, [("heavy", pw), ("light", pw)])
    r_heavy, rh = redis_server(work, "redis-heavy", pw)
    r_light, rl = redis_server(work, "redis-light", pw)
    # Fill both light databases with the probe's key space.
    for port in (ports["light"], rl):
        benchmark(port, "set", 16, 100_000, password=pw)
    res = {}
    for rnd in range(a.rounds):
        systems = [("MiniRedis", ports["heavy"], ports["light"]), ("Redis", rh, rl)]
        if rnd % 2:
            systems.reverse()
        for name, hp, lp in systems:
            idle = probe(lp, pw, a.probe_requests)
            loaded = loaded_probe(hp, lp, pw, a)
            res.setdefault((name, "idle"), []).append(idle[0])
            res.setdefault((name, "loaded"), []).append(loaded[0])
            res.setdefault((name, "loaded50"), []).append(loaded[1])
            print(f"  round {rnd + 1} {name:<9} probe p99 idle {idle[0]:.3f} ms, "
                  f"under load p50 {loaded[1]:.3f} ms p99 {loaded[0]:.3f} ms", file=sys.stderr)
    for p in (mini, r_heavy, r_light):
        stop(p)
    m, r = median(res[("MiniRedis", "loaded")]), median(res[("Redis", "loaded")])
    lines = ["| system | probe p99 idle (ms) | probe p50 under load (ms) | probe p99 under load (ms) |",
             "|---|---|---|---|"]
    for name in ("MiniRedis", "Redis"):
        lines.append(f"| {name} | {median(res[(name, 'idle')]):.3f} "
                     f"| {median(res[(name, 'loaded50')]):.3f} | {median(res[(name, 'loaded')]):.3f} |")
    lines.append("")
    lines.append(f"Probe p99 under load, MiniRedis / Redis: **{m / r:.2f}** (goal: at most 1.00). "
                 "MiniRedis: databases `heavy` and `light` in one `miniredis server`; Redis: two "
                 "redis-server processes, each started in its own session like the MiniRedis "
                 "process. Load: redis-benchmark -c 50 -P 16 SET/GET on `heavy`; "
                 f"probe: redis-benchmark -c 1 -P 1 GET, {a.probe_requests} requests, on `light`.")
    return lines


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def mode_density(example, work, a):
    count = a.databases
    base = free_range(count + 100)
    r = subprocess.run([example, str(count), str(base)], capture_output=True, text=True,
                       timeout=900)
    if r.returncode != 0:
        die(f"density run failed: {r.stderr[-2000:]}")
    fig = dict(line.split("=", 1) for line in r.stdout.split() if "=" in line)
    # Redis: one process per database; measure a few idle ones.
    sample = 3 if a.smoke else 10
    procs = []
    for i in range(sample):
        procs.append(redis_server(work, f"redis-density-{i}", "pw")[0])
    time.sleep(0.5)
    per = median([rss_kb(p.pid) for p in procs]) / 1024.0
    for p in procs:
        stop(p)
    total = float(fig["rss_idle_mb"])
    lines = ["| figure | MiniRedis | Redis |", "|---|---|---|",
             f"| idle databases | {count} in one process | {count} processes (extrapolated from "
             f"{sample} measured) |",
             f"| resident memory, all databases | {total:.1f} MB | {per * count:,.0f} MB "
             f"({per:.2f} MB each) |",
             f"| memory per database | {float(fig['rss_per_database_kb']):.1f} KB | {per * 1024:.0f} KB |",
             f"| create one database: median / p99 / max | {float(fig['create_median_ms']):.3f} / "
             f"{float(fig['create_p99_ms']):.3f} / {float(fig['create_max_ms']):.3f} ms | — |",
             f"| create all | {float(fig['create_total_ms']):.0f} ms | — |",
             f"| serve every one (AUTH+SET on its port, AUTH+GET via front door) | "
             f"{float(fig['served_all_ms']):.0f} ms | — |"]
    return f"Density: {count} idle databases", lines


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["door", "fairness", "density", "all"])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--requests", type=int, default=200_000)
    ap.add_argument("--probe-requests", type=int, default=20_000)
    ap.add_argument("--databases", type=int, default=1000)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--write")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--autogroup", choices=["as-is", "off", "both"], default="as-is",
                    help="fairness: run under the kernel's autogroup setting as it is, with it "
                         "off, or both (off/both need root; the setting is restored)")
    a = ap.parse_args()
    if a.smoke:
        a.rounds, a.requests, a.probe_requests, a.databases = 1, 2000, 2000, 20
    if not (0 < a.requests <= 10_000_000 and 0 < a.rounds <= 20 and 0 < a.databases <= 5000):
        die("out-of-range option")
    for tool in ("redis-server", "redis-cli", "redis-benchmark"):
        if not shutil.which(tool):
            die(f"{tool} is missing (apt-get install redis-server redis-tools)")
    if not a.no_build:
        subprocess.run(["cargo", "build", "--release", "-p", "miniredis"], cwd=ROOT, check=True,
                       env={**os.environ, "CARGO_TARGET_DIR": TARGET})
        subprocess.run(["cargo", "build", "--release", "-p", "nodes", "--example", "density"],
                       cwd=ROOT, check=True, env={**os.environ, "CARGO_TARGET_DIR": TARGET})
    binary = os.environ.get("MINIREDIS_BIN", os.path.join(TARGET, "release", "miniredis"))
    example = os.path.join(TARGET, "release", "examples", "density")
    sections = []
    modes = ["door", "fairness", "density"] if a.mode == "all" else [a.mode]
    try:
        for m in modes:
            with tempfile.TemporaryDirectory(prefix="miniredis-tenancy-") as work:
                if m == "door":
                    sections.append(mode_door(binary, work, a))
                elif m == "fairness":
                    sections.append(mode_fairness(binary, work, a))
                else:
                    sections.append(mode_density(example, work, a))
    finally:
        cleanup()
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    git = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True).stdout.strip() or "unknown"
    redis_ver = subprocess.run(["redis-server", "--version"], capture_output=True,
                               text=True).stdout.strip()
    out = [f"### Tenancy: {', '.join(modes)} ({time.strftime('%Y-%m-%d')}, git {git})", "",
           f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}; "
           f"{redis_ver.split(' sha=')[0]}. Command: `scripts/bench-tenancy.py "
           f"{' '.join(sys.argv[1:])}`. Medians of {a.rounds} round(s).", ""]
    for title, lines in sections:
        out += [f"#### {title}", ""] + lines + [""]
    text = "\n".join(out)
    print(text)
    if a.write and not a.smoke:
        with open(a.write, "a") as f:
            f.write("\n" + text)


if __name__ == "__main__":
    main()
