#!/usr/bin/env python3
"""Bitmaps: BITCOUNT, BITPOS and BITOP on big strings, SETBIT and GETBIT
throughput, ferrokv against redis-server.

A bitmap command on a big string runs in one go on the loop in both
servers, so what it costs is how long it holds every other client up.
Each server in turn gets a fresh process and a 100 MB string of
pseudo-random bytes (SETRANGE, 1 MB at a time, the same bytes for both),
then:

  BITCOUNT 100 MB        `BITCOUNT big`: a population count of the string
  BITCOUNT BIT range     `BITCOUNT big 3 799999996 BIT`: the same with
                         masked edge bytes
  BITPOS 100 MB          `BITPOS zeros 1` on 100 MB of zero bytes with one
                         set bit at the end: a search through the string
  BITOP AND 2x100 MB     `BITOP AND dest big zeros`: combines the two into
                         a third (the previous result deleted before each
                         call, so freeing it is not timed)

each timed from the client (send to reply, the reply a few bytes), CALLS
times; the figure is the median call. Then SETBIT and GETBIT throughput
with redis-benchmark -c 50 -P 16 on 10,000 keys of 12,346 bits
(`SETBIT bits:__rand_int__ 12345 1`, `GETBIT bits:__rand_int__ 12345`,
-r 10000; redis-benchmark's __rand_int__ has leading zeros, which no
offset may have),
with server CPU per request (utime+stime from /proc/PID/stat).

Ratios are ferrokv/redis, the median of the per-round ratios; the servers
take turns by round (A B, then B A, ...). Every result is checked to be
the same on both servers.

Usage: bitmap.py ROUNDS FERROKV_BINARY [REDIS_SERVER] [--mb=N] [--calls=N]
                 [--requests=N]
Prints markdown tables. Runs on loopback only and stops by itself.
"""

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helper  # noqa: E402
import persist  # noqa: E402
from persist import free_port  # noqa: E402

MB = 100
CALLS = 5
REQUESTS = 1_000_000
CHUNK = 1 << 20
KEYS = 10_000


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def load(c, mb):
    """The 100 MB pseudo-random string `big` and the zero string `zeros`."""
    rng = random.Random(20)
    for i in range(mb):
        c.call("SETRANGE", "big", str(i * CHUNK), rng.randbytes(CHUNK))
    bits = mb * CHUNK * 8
    c.call("SETBIT", "zeros", str(bits - 1), "1")


def timed(c, args, calls, before=None):
    """The median time of `calls` calls of `args`, in ms, and the last reply."""
    times, reply = [], None
    for _ in range(calls):
        if before:
            c.call(*before)
            # ferrokv frees a value this big on its lazy-free thread: let
            # that finish, so neither server is timed while freeing.
            time.sleep(0.5)
        t = time.perf_counter()
        reply = c.call(*args)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), reply


def big_tests(mb):
    bits = mb * CHUNK * 8
    return [
        ("BITCOUNT %d MB, ms" % mb, ["BITCOUNT", "big"], None),
        ("BITCOUNT BIT range, ms", ["BITCOUNT", "big", "3", str(bits - 5), "BIT"], None),
        ("BITPOS %d MB, ms" % mb, ["BITPOS", "zeros", "1"], None),
        ("BITOP AND 2x%d MB, ms" % mb, ["BITOP", "AND", "dest", "big", "zeros"], ["DEL", "dest"]),
    ]


def bench_throughput(port, pid, args, requests):
    before = cpu_ticks(pid)
    r = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", "50",
                        "-n", str(requests), "-r", str(KEYS), "-P", "16", "--csv"] + args,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
    after = cpu_ticks(pid)
    row = r.stdout.decode(errors="replace").strip().splitlines()[-1:] or [""]
    cells = [x.strip('"') for x in row[0].split(",")]
    if r.returncode != 0 or len(cells) < 7 or cells[0] == "test":
        raise RuntimeError("redis-benchmark %s failed: %s" % (args[0], r.stderr[:200]))
    return float(cells[1]), after - before


def run_server(cmd, mb, calls, requests):
    """{test: (figure, reply)} for one fresh server."""
    workdir = tempfile.mkdtemp(prefix="ferrokv-bitmap-bench-")
    port = free_port()
    proc = persist.start(cmd, port, workdir)
    out = {}
    try:
        c = helper.Conn(port, timeout=120.0)
        load(c, mb)
        for name, args, before in big_tests(mb):
            out[name] = timed(c, args, calls, before)
        for name, args in [("SETBIT", ["SETBIT", "bits:__rand_int__", "12345", "1"]),
                           ("GETBIT", ["GETBIT", "bits:__rand_int__", "12345"])]:
            rps, ticks = bench_throughput(port, proc.pid, args, requests)
            out[name + " ops/s"] = (rps, None)
            out[name + " server CPU us/req"] = (ticks * 1e6 / os.sysconf("SC_CLK_TCK") / requests, None)
        c.close()
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)
    return out


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    mb, calls, requests = MB, CALLS, REQUESTS
    for a in sys.argv[1:]:
        if a.startswith("--mb="):
            mb = int(a.split("=", 1)[1])
        elif a.startswith("--calls="):
            calls = int(a.split("=", 1)[1])
        elif a.startswith("--requests="):
            requests = int(a.split("=", 1)[1])
        elif a.startswith("--"):
            sys.exit("bitmap.py: unknown option %r" % a)
    if len(args) < 2:
        sys.exit(__doc__)
    rounds, ferrokv = int(args[0]), args[1]
    redis = args[2] if len(args) > 2 else "redis-server"
    servers = {"ferrokv": [ferrokv], "redis": [redis]}
    names = list(servers)
    results = {name: [] for name in names}
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            results[name].append(run_server(servers[name], mb, calls, requests))
            print("bitmap: round %d/%d, %s done" % (r + 1, rounds, name), file=sys.stderr)
    tests = list(results[names[0]][0])
    for test in tests:
        replies = {results[n][r][test][1] for n in names for r in range(rounds)}
        if len(replies) > 1:
            sys.exit("bitmap.py: %s answered differently: %r" % (test, replies))
    print("Bitmaps on a %d MB string (median of %d calls, ms, timed at the client; a fresh server per "
          "round) and SETBIT/GETBIT throughput (redis-benchmark -c 50 -P 16 -r 10000, %s requests); "
          "medians of %d rounds, ratio ferrokv/redis (the median of the per-round ratios)."
          % (mb, calls, "{:,}".format(requests), rounds))
    print()
    print("| test | ferrokv | redis | ratio |")
    print("|---|---|---|---|")
    for test in tests:
        a = [results["ferrokv"][r][test][0] for r in range(rounds)]
        b = [results["redis"][r][test][0] for r in range(rounds)]
        ratio = statistics.median(x / y for x, y in zip(a, b) if y)
        print("| %s | %.2f | %.2f | %.2f |" % (test, statistics.median(a), statistics.median(b), ratio))


if __name__ == "__main__":
    main()
