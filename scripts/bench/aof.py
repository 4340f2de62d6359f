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
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from persist import Conn, free_port, pss_kb, stat, wait_pong, resp  # noqa: E402

REQUESTS = {1: 200_000, 16: 1_000_000}


def start(cmd, port, workdir, fsync):
    aof = ["--appendonly", "no"] if fsync == "off" else ["--appendonly", "yes", "--appendfsync", fsync]
    argv = cmd + ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir,
                  "--loglevel", "warning"] + aof
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_pong(port, proc)
    return proc


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


def rewrite(name, cmd, n, load_file):
    workdir = tempfile.mkdtemp(prefix="ferrokv-aofrw-%s-" % name)
    port = free_port()
    proc = start(cmd, port, workdir, "everysec")
    try:
        with open(load_file, "rb") as f:
            subprocess.run(["redis-cli", "-p", str(port), "--pipe"], stdin=f, check=True,
                           stdout=subprocess.DEVNULL)
        c = Conn(port)
        assert c.call("DBSIZE") == n, "load"
        time.sleep(1.0)
        stop = threading.Event()
        pings = []

        def pinger():
            p = Conn(port)
            while not stop.is_set():
                t0 = time.perf_counter()
                p.call("PING")
                pings.append(time.perf_counter() - t0)
                time.sleep(0.001)

        writer = subprocess.Popen(
            ["redis-benchmark", "-p", str(port), "-t", "set", "-r", str(n), "-n", "1000000000",
             "-P", "16", "-c", "1", "-q"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before = pss_kb(proc.pid)
        t = threading.Thread(target=pinger)
        t.start()
        time.sleep(0.5)
        pings.clear()
        info_before = Conn(port).call("INFO", "stats")
        peak = before
        t0 = time.perf_counter()
        c.call("BGREWRITEAOF")
        while True:
            info = c.call("INFO", "persistence")
            if b"aof_rewrite_in_progress:0" in info and b"aof_rewrite_scheduled:0" in info:
                break
            peak = max(peak, pss_kb(proc.pid))
            time.sleep(0.01)
        rw_s = time.perf_counter() - t0
        during = list(pings)
        info_after = Conn(port).call("INFO", "stats")
        writes = stat(info_after, b"total_commands_processed") - stat(info_before, b"total_commands_processed")
        stop.set()
        writer.terminate()
        writer.wait()
        t.join()
        assert b"aof_last_bgrewrite_status:ok" in c.call("INFO", "persistence")
        proc.terminate()
        proc.wait()
        port2 = free_port()
        t0 = time.perf_counter()
        proc = start(cmd, port2, workdir, "everysec")
        load_s = time.perf_counter() - t0
        assert Conn(port2).call("DBSIZE") == n, "reload"
        return {"rw_s": rw_s, "ping_max_ms": max(during) * 1000 if during else float("nan"),
                "pings": len(during), "growth_mb": (peak - before) / 1024.0, "writes": writes,
                "load_s": load_s}
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    rounds, n = int(sys.argv[1]), int(sys.argv[2])
    servers = [("ferrokv", [sys.argv[3]]), ("redis", [sys.argv[4] if len(sys.argv) > 4 else "redis-server"])]
    print("### SET with the AOF on (-c 50 -r 100000, median of %d rounds)" % rounds)
    print()
    throughput(rounds, servers)
    print()
    print("### BGREWRITEAOF of %d keys under writes (appendfsync everysec)" % n)
    print()
    load_file = tempfile.mktemp(prefix="ferrokv-aof-load-")
    with open(load_file, "wb") as f:
        for i in range(0, n, 10000):
            f.write(b"".join(resp("SET", "key:%012d" % j, "v%d" % j) for j in range(i, min(n, i + 10000))))
    try:
        rows = {name: rewrite(name, cmd, n, load_file) for name, cmd in servers}
    finally:
        os.unlink(load_file)
    print("| server | keys | BGREWRITEAOF s | longest PING during it, ms | PINGs | memory growth MB | commands during it | start-up load s |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for name, r in rows.items():
        print("| %s | %d | %.2f | %.2f | %d | %.1f | %d | %.2f |" % (
            name, n, r["rw_s"], r["ping_max_ms"], r["pings"], r["growth_mb"], r["writes"], r["load_s"]))
    f, r = rows["ferrokv"], rows["redis"]
    print("| ferrokv/redis | | %.2f | %.2f | | %.2f | | %.2f |" % (
        f["rw_s"] / r["rw_s"], f["ping_max_ms"] / r["ping_max_ms"],
        f["growth_mb"] / r["growth_mb"] if r["growth_mb"] > 0 else float("nan"), f["load_s"] / r["load_s"]))


if __name__ == "__main__":
    main()
