#!/usr/bin/env python3
"""What `latency-tracking` costs: server CPU per SET and GET with the
per-command latency histograms on and off, ferrokv and redis-server.

One server of each kind runs for the whole measurement. Each run is
redis-benchmark -c 50 -P 16 -r 100000 -t set or get against it, after
`CONFIG SET latency-tracking yes` or `no` and CONFIG RESETSTAT; the server's
utime+stime (/proc/PID/stat) is read before and after. Within a round the
settings take turns (yes then no, then no then yes in the next round), so
drift on a noisy machine falls on both; each figure is a median over
rounds and each ratio (on/off) the median of the per-round ratios. After
each run INFO commandstats must show exactly the requests sent, or the run
is reported n/a.

Usage: latency_tracking.py ROUNDS FERROKV_BINARY [REDIS_SERVER]
                           [--requests=N]
Prints a markdown table. Runs on loopback only and stops by itself.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helper  # noqa: E402
import persist  # noqa: E402
from evalsha import command_stats, cpu_ticks  # noqa: E402
from persist import free_port  # noqa: E402

CLIENTS = 50
PIPELINE = 16
KEYSPACE = 100_000
REQUESTS = 2_000_000
TESTS = ["set", "get"]
SETTINGS = ["yes", "no"]


def run_one(proc, port, conn, test, setting, requests):
    """One redis-benchmark run: server CPU µs per request, or None."""
    conn.call("CONFIG", "SET", "latency-tracking", setting)
    conn.call("CONFIG", "RESETSTAT")
    before = cpu_ticks(proc.pid)
    r = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(CLIENTS),
                        "-n", str(requests), "-r", str(KEYSPACE), "-P", str(PIPELINE), "-t", test,
                        "-q"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=600)
    after = cpu_ticks(proc.pid)
    if proc.poll() is not None:
        raise RuntimeError("the server exited during redis-benchmark -t %s" % test)
    stats = command_stats(conn, test)
    if r.returncode != 0 or stats != {"calls": requests, "failed_calls": 0, "rejected_calls": 0}:
        log("n/a: %s latency-tracking %s: exit %d, %r" % (test, setting, r.returncode, stats))
        return None
    return (after - before) / os.sysconf("SC_CLK_TCK") * 1e6 / requests


def log(msg):
    print("latency_tracking: " + msg, file=sys.stderr)
    sys.stderr.flush()


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    requests = REQUESTS
    for a in sys.argv[1:]:
        if a.startswith("--requests="):
            requests = int(a.split("=", 1)[1])
        elif a.startswith("--"):
            sys.exit("latency_tracking.py: unknown option %r" % a)
    if len(args) < 2:
        sys.exit(__doc__)
    rounds, ferrokv = int(args[0]), args[1]
    redis = args[2] if len(args) > 2 else "redis-server"
    servers = {"ferrokv": [ferrokv], "redis": [redis]}
    # us[(server, test, setting)][round] = µs per request
    us = {}
    running = []
    try:
        for name, cmd in servers.items():
            workdir = tempfile.mkdtemp(prefix="ferrokv-latency-bench-")
            port = free_port()
            proc = persist.start(cmd, port, workdir, ["--appendonly", "no"])
            running.append((name, proc, port, helper.Conn(port, timeout=60.0), workdir))
        for r in range(rounds):
            order = SETTINGS if r % 2 == 0 else SETTINGS[::-1]
            for test in TESTS:
                for name, proc, port, conn, _ in running:
                    for setting in order:
                        figure = run_one(proc, port, conn, test, setting, requests)
                        us.setdefault((name, test, setting), {})[r] = figure
                log("round %d/%d, %s: %s" % (r + 1, rounds, test, " ".join(
                    "%s/%s=%s" % (n, s, helper.fmt(us[(n, test, s)][r], 3))
                    for n, *_ in running for s in SETTINGS)))
    finally:
        for _, proc, _, conn, workdir in running:
            conn.close()
            proc.terminate()
            proc.wait()
            shutil.rmtree(workdir, ignore_errors=True)
    print("Server CPU per request with latency-tracking yes and no (utime+stime from /proc/PID/stat; "
          "redis-benchmark -c %d -P %d -r %s, %s requests per run; one server of each kind, the "
          "settings alternating within each round; medians of %d rounds). The runs are described in "
          "scripts/bench/latency_tracking.py."
          % (CLIENTS, PIPELINE, "{:,}".format(KEYSPACE), "{:,}".format(requests), rounds))
    print()
    header = ["test"]
    for name in servers:
        header += ["%s yes µs/req" % name, "%s no µs/req" % name, "%s yes/no" % name]
    rows = []
    for test in TESTS:
        row = [test.upper()]
        for name in servers:
            on, off = us.get((name, test, "yes"), {}), us.get((name, test, "no"), {})
            ratios = [on[r] / off[r] for r in on if on[r] and off.get(r)]
            row += [helper.fmt(median(on.values()), 3), helper.fmt(median(off.values()), 3),
                    helper.fmt(median(ratios), 3)]
        rows.append(row)
    helper.table(header, rows)


if __name__ == "__main__":
    main()
