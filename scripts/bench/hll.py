#!/usr/bin/env python3
"""HyperLogLog: PFADD, PFCOUNT and PFMERGE, ferrokv against redis-server.

Each run is redis-benchmark -c 50 at -P 1 and -P 16 against a fresh
server, after the keys it reads are loaded:

  PFADD, one key        `PFADD hll e:__rand_int__` (-r 1,000,000): one key,
                        dense after its first thousand or so elements, so
                        mostly a hash and a register update
  PFADD, sparse keys    `PFADD hll:__rand_int__ e:__rand_int__` (-r 10,000):
                        ten thousand keys of a few dozen elements each,
                        all sparse: opcodes found, split and merged
  PFCOUNT, cached       `PFCOUNT hll` on a dense key of 100,000 elements:
                        the cached count after the first call
  PFCOUNT, two keys     `PFCOUNT hll hll2`, both dense: the union of their
                        registers built and counted on every call
  PFMERGE               `PFMERGE dst hll hll2`: the same union, stored

redis-benchmark fills each __rand_int__ with its own random number. After
each run the server's INFO commandstats must show exactly the requests
sent as calls of the command, none failed or rejected: a run that erred is
reported n/a. Reported as evalsha.py reports (helper.py's tables):
throughput and p50/p99 latency, and server CPU per request. Ratios are
ferrokv/redis, medians over rounds; the servers take turns by round.

Usage: hll.py ROUNDS FERROKV_BINARY [REDIS_SERVER]
              [--requests=P1_REQUESTS,P16_REQUESTS] [--only=PREFIX[,PREFIX...]]

--only keeps the tests whose slugs start with one of the prefixes: a
test's slug is its name in lower case with dashes for commas and spaces
(pfadd-one-key, pfadd-sparse-keys, pfcount-cached, pfcount-two-keys,
pfmerge), so `--only=pfadd,pfcount-cached` runs the three cheap tests.
A close figure can then be measured with many more requests without the
slow tests' time.
Prints markdown tables. Runs on loopback only and stops by itself.
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helper  # noqa: E402
import persist  # noqa: E402
from evalsha import command_stats, cpu_ticks, unknown  # noqa: E402
from persist import free_port  # noqa: E402

CLIENTS = 50
REQUESTS = (100_000, 500_000)  # at -P 1 and at -P 16
DENSE_ELEMENTS = 100_000

# name | keyspace (-r) | keys to load first | command stat | arguments.
TESTS = [
    ("PFADD, one key", 1_000_000, [], "pfadd", ["PFADD", "hll", "e:__rand_int__"]),
    ("PFADD, sparse keys", 10_000, [], "pfadd", ["PFADD", "hll:__rand_int__", "e:__rand_int__"]),
    ("PFCOUNT, cached", 1, ["hll"], "pfcount", ["PFCOUNT", "hll"]),
    ("PFCOUNT, two keys", 1, ["hll", "hll2"], "pfcount", ["PFCOUNT", "hll", "hll2"]),
    ("PFMERGE", 1, ["hll", "hll2"], "pfmerge", ["PFMERGE", "dst", "hll", "hll2"]),
]


def slug(name):
    """`PFADD, one key` -> `pfadd-one-key`, for --only."""
    return name.lower().replace(",", "").replace(" ", "-")


def load(c, key):
    """Fills `key` with DENSE_ELEMENTS elements, 1,000 per PFADD."""
    for start in range(0, DENSE_ELEMENTS, 1000):
        r = c.call("PFADD", key, *("%s:%d" % (key, i) for i in range(start, start + 1000)))
        if helper.is_error(r):
            return r[1]
    return None


def run_one(cmd, test, pipeline, requests):
    """redis-benchmark of one test on a fresh server: (rps, p50, p99, ticks, note)."""
    name, keyspace, keys, stat, args = test
    na = ("na", "na", "na", "na")
    workdir = tempfile.mkdtemp(prefix="ferrokv-hll-bench-")
    port = free_port()
    proc = persist.start(cmd, port, workdir)
    try:
        c = helper.Conn(port, timeout=60.0)
        for key in keys:
            err = load(c, key)
            if err:
                return na + ("loading %s: %s" % (key, err),)
        probe = c.call(*[a.replace("__rand_int__", "probe") for a in args])
        if unknown(probe) or helper.is_error(probe):
            return na + ("%s answered %r" % (args[0], probe),)
        c.call("CONFIG", "RESETSTAT")
        before = cpu_ticks(proc.pid)
        r = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(CLIENTS),
                            "-n", str(requests), "-r", str(keyspace), "-P", str(pipeline), "--csv"]
                           + args,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        after = cpu_ticks(proc.pid)
        if proc.poll() is not None:
            raise RuntimeError("the server exited during redis-benchmark %s" % name)
        row = r.stdout.decode(errors="replace").strip().splitlines()[-1:] or [""]
        cells = [x.strip('"') for x in row[0].split(",")]
        if r.returncode != 0 or len(cells) < 7 or cells[0] == "test":
            return na + ("redis-benchmark exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[:100]),)
        stats = command_stats(c, stat)
        if stats != {"calls": requests, "failed_calls": 0, "rejected_calls": 0}:
            return na + ("cmdstat_%s %r after %d requests" % (stat, stats, requests),)
        c.close()
        return (cells[1], cells[4], cells[6], str(after - before), "-")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def log(msg):
    print("hll: " + msg, file=sys.stderr)
    sys.stderr.flush()


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    requests = REQUESTS
    tests = TESTS
    for a in sys.argv[1:]:
        if a.startswith("--requests="):
            requests = tuple(int(s) for s in a.split("=", 1)[1].split(","))
        elif a.startswith("--only="):
            prefixes = tuple(p.strip().lower() for p in a.split("=", 1)[1].split(","))
            tests = [t for t in TESTS if slug(t[0]).startswith(prefixes)]
            if not tests:
                sys.exit("hll.py: no test starts with %s" % a.split("=", 1)[1])
        elif a.startswith("--"):
            sys.exit("hll.py: unknown option %r" % a)
    if len(args) < 2 or len(requests) != 2:
        sys.exit(__doc__)
    rounds, ferrokv = int(args[0]), args[1]
    redis = args[2] if len(args) > 2 else "redis-server"
    servers = {"ferrokv": [ferrokv], "redis": [redis]}
    names = list(servers)
    hz = os.sysconf("SC_CLK_TCK")
    tmp = tempfile.mkdtemp(prefix="ferrokv-hll-report-")
    try:
        rps_tsv, cpu_tsv = os.path.join(tmp, "rps.tsv"), os.path.join(tmp, "cpu.tsv")
        with open(rps_tsv, "w") as rps_f, open(cpu_tsv, "w") as cpu_f:
            for r in range(rounds):
                order = names if r % 2 == 0 else names[::-1]
                for test in tests:
                    progress = []
                    for pipeline, n in zip((1, 16), requests):
                        for name in order:
                            rps, p50, p99, ticks, note = run_one(servers[name], test, pipeline, n)
                            rps_f.write("\t".join([name, str(r + 1), test[0], str(pipeline), rps, p50, p99,
                                                   note]) + "\n")
                            cpu_f.write("\t".join([name, str(r + 1), test[0], str(pipeline), str(n), ticks,
                                                   str(hz)]) + "\n")
                            progress.append("P%d %s=%s" % (pipeline, name, rps))
                    log("round %d/%d, %s: %s" % (r + 1, rounds, test[0], " ".join(progress)))
        print("HyperLogLog (redis-benchmark -c %d, %s requests at -P 1 and %s at -P 16; a fresh server "
              "per run, dense keys loaded with %s elements first; medians of %d rounds). The runs are "
              "described in scripts/bench/hll.py."
              % (CLIENTS, "{:,}".format(requests[0]), "{:,}".format(requests[1]),
                 "{:,}".format(DENSE_ELEMENTS), rounds))
        print()
        helper.report_throughput(rps_tsv, names)
        print()
        print("Server CPU per request (utime+stime from /proc/PID/stat, CLK_TCK=%d, the same runs)." % hz)
        print()
        helper.report_cpu(cpu_tsv, names)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
