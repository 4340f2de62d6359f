#!/usr/bin/env python3
"""GEOSEARCH on one geo set of 1M members, ferrokv against redis-server.

Each server is started once and loaded with the same 1,000,000 seeded
points (uniform over Europe, 40 by 25 degrees, about 0.12 points per
square km) by pipelined GEOADDs of 500 members. Then redis-benchmark
(-c 50, -n REQUESTS) sends each query below to one server and then the
other, the order swapped every round, while the server's CPU time
(utime + stime from /proc/PID/stat) is read before and after:

  BYRADIUS 10 km            ~40 results, unsorted
  BYRADIUS 50 km ASC        ~900 results, all sorted
  BYRADIUS 50 km COUNT 10   the 10 nearest of ~900 (a partial sort)
  BYRADIUS 50 km COUNT 10 ANY   the first 10 found
  BYBOX 100 100 km WITHDIST ~1200 results with their distances

Every reply is checked once against the other server's (same members, same
order, same bytes). Prints a markdown table of requests per second and CPU
per request, each the median over rounds, with ferrokv/redis ratios.

Usage: geo.py ROUNDS FERROKV_BINARY [--requests N] [--points N]
Runs on loopback only and stops by itself.
"""

import os
import random
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import persist  # noqa: E402
from persist import free_port  # noqa: E402
from zset import Conn, cpu_ticks  # noqa: E402

CENTER = [b"10.5", b"47.5"]
QUERIES = [
    ("BYRADIUS 10 km", [b"BYRADIUS", b"10", b"km"]),
    ("BYRADIUS 50 km ASC", [b"BYRADIUS", b"50", b"km", b"ASC"]),
    ("BYRADIUS 50 km COUNT 10", [b"BYRADIUS", b"50", b"km", b"COUNT", b"10"]),
    ("BYRADIUS 50 km COUNT 10 ANY", [b"BYRADIUS", b"50", b"km", b"COUNT", b"10", b"ANY"]),
    ("BYBOX 100 100 km WITHDIST", [b"BYBOX", b"100", b"100", b"km", b"WITHDIST"]),
]


def query(words):
    return [b"GEOSEARCH", b"geo", b"FROMLONLAT"] + CENTER + words


def load(port, points, seed):
    rng = random.Random(seed)
    c = Conn(port)
    for start in range(0, points, 500):
        args = [b"GEOADD", b"geo"]
        for i in range(start, min(points, start + 500)):
            args += [b"%.6f" % rng.uniform(-10, 30), b"%.6f" % rng.uniform(35, 60), b"p:%d" % i]
        c.pipeline([args])
    return c


def raw_reply(conn, args):
    """The reply's bytes, read as zset.Conn reads them (one line at a time)."""
    conn.sock.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
    out = []

    def one():
        line = conn.line()
        out.append(line)
        if line[:1] == b"$" and int(line[1:]) >= 0:
            out.append(conn.line())
        elif line[:1] == b"*":
            for _ in range(int(line[1:])):
                one()
    one()
    return b"\r\n".join(out)


def bench(port, pid, args, requests):
    hz = os.sysconf("SC_CLK_TCK")
    before = cpu_ticks(pid)
    out = subprocess.run(["redis-benchmark", "-p", str(port), "-c", "50", "-n", str(requests), "--csv"]
                         + [a.decode() for a in args], capture_output=True, text=True, check=True).stdout
    ticks = cpu_ticks(pid) - before
    rps = float(out.strip().splitlines()[-1].split('","')[1])
    return rps, ticks / hz / requests * 1e6


def main():
    rounds = int(sys.argv[1])
    ferrokv = sys.argv[2]
    requests, points = 20_000, 1_000_000
    for a in sys.argv[3:]:
        if a.startswith("--requests="):
            requests = int(a.split("=", 1)[1])
        elif a.startswith("--points="):
            points = int(a.split("=", 1)[1])
    servers = {"ferrokv": [ferrokv], "redis": ["redis-server", "--appendonly", "no"]}
    procs, conns, ports = {}, {}, {}
    try:
        for name, cmd in servers.items():
            ports[name] = free_port()
            procs[name] = persist.start(cmd, ports[name], tempfile.mkdtemp(prefix="ferrokv-geo-bench-"))
            conns[name] = load(ports[name], points, 42)
        for label, words in QUERIES:
            replies = {name: raw_reply(conns[name], query(words)) for name in servers}
            if replies["ferrokv"] != replies["redis"]:
                raise RuntimeError("replies differ for %s" % label)
        results = {(label, name): [] for label, _ in QUERIES for name in servers}
        for r in range(rounds):
            order = list(servers) if r % 2 == 0 else list(reversed(servers))
            for label, words in QUERIES:
                for name in order:
                    results[(label, name)].append(bench(ports[name], procs[name].pid, query(words), requests))
        print("%d points, redis-benchmark -c 50 -n %d, median of %d rounds\n" % (points, requests, rounds))
        print("| GEOSEARCH ... | results | ferrokv req/s | redis req/s | ratio | ferrokv CPU us/req | redis CPU us/req | CPU ratio |")
        print("|---|---|---|---|---|---|---|---|")
        for label, words in QUERIES:
            n = raw_reply(conns["redis"], query(words)).split(b"\r\n", 1)[0][1:].decode()
            f = results[(label, "ferrokv")]
            rd = results[(label, "redis")]
            f_rps, r_rps = statistics.median(x[0] for x in f), statistics.median(x[0] for x in rd)
            f_cpu, r_cpu = statistics.median(x[1] for x in f), statistics.median(x[1] for x in rd)
            print("| %s | %s | %.0f | %.0f | %.2f | %.1f | %.1f | %.2f |"
                  % (label, n, f_rps, r_rps, f_rps / r_rps, f_cpu, r_cpu, f_cpu / r_cpu if r_cpu else 0))
    finally:
        for p in procs.values():
            p.kill()
            p.wait()


if __name__ == "__main__":
    main()
