#!/usr/bin/env python3
"""The append-only file, ferrokv against redis-server in one run.

1. SET throughput and latency with the AOF on: redis-benchmark -t set at
   -c 50 -P 1 and -c 50 -P 16 (-r 100000), with `appendfsync always`,
   `everysec`, and with the AOF off, each on a fresh server in a temporary
   directory. The servers take turns (ferrokv first in odd rounds, redis
   first in even ones) and each figure is the median over rounds.
2. BGREWRITEAOF of N keys under writes: as persist.py does for BGSAVE, one
   client overwrites random keys at full speed while another PINGs; the
   rewrite's wall time, the longest PING, the memory growth (PSS of the
   server and any child), then the time to start on the AOF written.

Usage: aof.py ROUNDS N FERROKV_BINARY [REDIS_SERVER]
Prints markdown tables. Runs on loopback only and stops by itself.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import persist  # noqa: E402
from persist import free_port  # noqa: E402

REQUESTS = {1: 200_000, 16: 1_000_000}


def aof_args(fsync):
    return ["--appendonly", "no"] if fsync == "off" else ["--appendonly", "yes", "--appendfsync", fsync]


def start(cmd, port, workdir, fsync):
    return persist.start(cmd, port, workdir, aof_args(fsync))


def bench_set(cmd, fsync, pipeline):
    workdir = tempfile.mkdtemp(prefix="ferrokv-aof-bench-")
    port = free_port()
    proc = start(cmd, port, workdir, fsync)
    try:
        out = subprocess.run(
            ["redis-benchmark", "-p", str(port), "-t", "set", "-n", str(REQUESTS[pipeline]),
             "-c", "50", "-P", str(pipeline), "-r", "100000", "--csv"],
            check=True, capture_output=True, text=True).stdout
        line = [l for l in out.splitlines() if l.startswith('"SET"')][0]
        fields = [f.strip('"') for f in line.split(",")]
        # "test","rps","avg","min","p50","p95","p99","max"
        return float(fields[1]), float(fields[6])
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def throughput(rounds, servers):
    rows = {}
    for fsync in ["always", "everysec", "off"]:
        for pipeline in [1, 16]:
            got = {name: [] for name, _ in servers}
            for r in range(rounds):
                order = servers if r % 2 == 0 else list(reversed(servers))
                for name, cmd in order:
                    got[name].append(bench_set(cmd, fsync, pipeline))
                    print("  %s appendfsync=%s -P %d: %.0f ops/s p99 %.3f ms" % (
                        name, fsync, pipeline, got[name][-1][0], got[name][-1][1]), file=sys.stderr)
            rows[(fsync, pipeline)] = {
                name: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
                for name, v in got.items()
            }
    print("| appendfsync | -P | ferrokv ops/s | redis ops/s | ferrokv/redis | ferrokv p99 ms | redis p99 ms |")
    print("|---|--:|--:|--:|--:|--:|--:|")
    for (fsync, pipeline), r in rows.items():
        f, d = r["ferrokv"], r["redis"]
        print("| %s | %d | %.0f | %.0f | %.2f | %.3f | %.3f |" % (
            fsync, pipeline, f[0], d[0], f[0] / d[0], f[1], d[1]))
    print()
    print("| ferrokv ops/s with AOF / without | -P 1 | -P 16 |")
    print("|---|--:|--:|")
    for fsync in ["always", "everysec"]:
        print("| %s | %.2f | %.2f |" % (fsync, rows[(fsync, 1)]["ferrokv"][0] / rows[("off", 1)]["ferrokv"][0],
                                        rows[(fsync, 16)]["ferrokv"][0] / rows[("off", 16)]["ferrokv"][0]))


def rewrite_running(info):
    return b"aof_rewrite_in_progress:0" not in info or b"aof_rewrite_scheduled:0" not in info


def rewrite(name, cmd, n, load_file):
    """BGREWRITEAOF of N keys under writes (appendfsync everysec); see
    persist.measure_job."""
    return persist.measure_job(name, cmd, n, load_file, "BGREWRITEAOF", rewrite_running,
                               b"aof_last_bgrewrite_status:ok", aof_args("everysec"))


def main():
    rounds, n = int(sys.argv[1]), int(sys.argv[2])
    servers = [("ferrokv", [sys.argv[3]]), ("redis", [sys.argv[4] if len(sys.argv) > 4 else "redis-server"])]
    print("### SET with the AOF on (-c 50 -r 100000, median of %d rounds)" % rounds)
    print()
    throughput(rounds, servers)
    print()
    print("### BGREWRITEAOF of %d keys under writes (appendfsync everysec)" % n)
    print()
    persist.run_jobs(servers, n, rewrite, "BGREWRITEAOF")

if __name__ == "__main__":
    main()
