#!/usr/bin/env python3
"""BGSAVE and start-up load, ferrokv against redis-server in one run.

For each server: load N small keys (`SET key:<n, 12 digits> v<n>` through redis-cli
--pipe), then, while one client overwrites random keys at full speed
(redis-benchmark SET at -P 16) and another sends PING one at a time, run BGSAVE and
poll INFO until it ends. Reports the BGSAVE wall time, the longest PING
round trip during it, the growth of the server's memory during it (the
proportional set size of the server and any child it forked, from
/proc/PID/smaps_rollup, so pages a fork shares count once), and then the
time to start on the file written (spawn to the first PONG, which both
servers answer only after loading).

Usage: persist.py N FERROKV_BINARY [REDIS_SERVER]
Prints a markdown table. Runs on loopback only and stops by itself.
"""

import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port, timeout=60.0):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.s.makefile("rb")

    def call(self, *args):
        self.s.sendall(resp(*args))
        return self.read()

    def read(self):
        line = self.f.readline()
        kind, rest = line[:1], line[1:-2]
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if kind == b"*":
            return [self.read() for _ in range(int(rest))]
        if kind == b":":
            return int(rest)
        if kind == b"-":
            raise RuntimeError(rest.decode())
        return rest


def stat(info, name):
    for line in info.split(b"\r\n"):
        if line.startswith(name + b":"):
            return int(line.split(b":")[1])
    return 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_pong(port, proc, limit_s=600.0):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("server exited with %s" % proc.returncode)
        try:
            c = Conn(port, timeout=limit_s)
            while c.call("PING") != b"PONG":
                time.sleep(0.01)
            return
        except (OSError, RuntimeError):
            time.sleep(0.01)
    raise RuntimeError("no PONG in %ss" % limit_s)


def pss_kb(pid):
    """PSS of `pid` and its children, in KB."""
    total = 0
    pids = [pid]
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


NO_AOF = ("--appendonly", "no")


def start(cmd, port, workdir, args=NO_AOF):
    """Starts a server without save points, with `args` after the common ones."""
    argv = cmd + ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir,
                  "--loglevel", "warning"] + list(args)
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_pong(port, proc)
    return proc


def bgsave_running(info):
    return b"rdb_bgsave_in_progress:1" in info


def measure_job(name, cmd, n, load_file, command, running, done_ok, args=NO_AOF):
    """Loads N keys into a fresh server started with `args`, then, while a
    writer overwrites random keys and a pinger PINGs, sends `command` and
    polls INFO persistence while `running(info)` holds. Checks that
    INFO persistence then contains `done_ok`, and times a restart on the
    files written. Returns the job's wall time (job_s), the longest PING
    and the PINGs during it, the memory growth, the commands processed
    during it, and the start-up load time."""
    workdir = tempfile.mkdtemp(prefix="ferrokv-%s-%s-" % (command.lower(), name))
    port = free_port()
    proc = start(cmd, port, workdir, args)
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

        # The writer is redis-benchmark, a process of its own, so the PING
        # thread never waits for it on Python's lock.
        writer = subprocess.Popen(
            ["redis-benchmark", "-p", str(port), "-t", "set", "-r", str(n), "-n", "1000000000",
             "-P", "16", "-c", "1", "-q"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        before = pss_kb(proc.pid)
        ping_thread = threading.Thread(target=pinger)
        ping_thread.start()
        time.sleep(0.5)
        pings.clear()
        stats_before = Conn(port).call("INFO", "stats")
        peak = before
        t0 = time.perf_counter()
        c.call(command)
        while running(c.call("INFO", "persistence")):
            peak = max(peak, pss_kb(proc.pid))
            time.sleep(0.01)
        job_s = time.perf_counter() - t0
        during = list(pings)
        stats_after = Conn(port).call("INFO", "stats")
        writes_during = stat(stats_after, b"total_commands_processed") - stat(stats_before, b"total_commands_processed")
        stop.set()
        writer.terminate()
        writer.wait()
        ping_thread.join()
        status = c.call("INFO", "persistence")
        assert done_ok in status, status
        proc.terminate()
        proc.wait()
        # Start-up load of the files just written.
        port2 = free_port()
        t0 = time.perf_counter()
        proc = start(cmd, port2, workdir, args)
        load_s = time.perf_counter() - t0
        assert Conn(port2).call("DBSIZE") == n, "reload"
        return {
            "job_s": job_s,
            "ping_max_ms": max(during) * 1000 if during else float("nan"),
            "pings": len(during),
            "growth_mb": (peak - before) / 1024.0,
            "load_s": load_s,
            "writes": writes_during,
        }
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def measure(name, cmd, n, load_file):
    """BGSAVE of N keys under writes; see `measure_job`."""
    return measure_job(name, cmd, n, load_file, "BGSAVE", bgsave_running, b"rdb_last_bgsave_status:ok")


def run_jobs(servers, n, measure_one, command):
    """Writes a load file of N keys, runs `measure_one(name, cmd, n,
    load_file)` (a `measure_job`) on each server, and prints the table of
    results, `command` naming the job's column."""
    load_file = tempfile.mktemp(prefix="ferrokv-load-")
    with open(load_file, "wb") as f:
        for i in range(0, n, 10000):
            f.write(b"".join(resp("SET", "key:%012d" % j, "v%d" % j) for j in range(i, min(n, i + 10000))))
    try:
        rows = {name: measure_one(name, cmd, n, load_file) for name, cmd in servers}
    finally:
        os.unlink(load_file)
    print("| server | keys | %s s | longest PING during it, ms | PINGs | memory growth MB | commands during it | start-up load s |" % command)
    print("|---|--:|--:|--:|--:|--:|--:|--:|")
    for name, r in rows.items():
        print("| %s | %d | %.2f | %.2f | %d | %.1f | %d | %.2f |" % (
            name, n, r["job_s"], r["ping_max_ms"], r["pings"], r["growth_mb"], r["writes"], r["load_s"]))
    f, r = rows["ferrokv"], rows["redis"]
    print("| ferrokv/redis | | %.2f | %.2f | | %.2f | | %.2f |" % (
        f["job_s"] / r["job_s"], f["ping_max_ms"] / r["ping_max_ms"],
        f["growth_mb"] / r["growth_mb"] if r["growth_mb"] > 0 else float("nan"), f["load_s"] / r["load_s"]))


def main():
    n = int(sys.argv[1])
    servers = [("ferrokv", [sys.argv[2]]), ("redis", [sys.argv[3] if len(sys.argv) > 3 else "redis-server"])]
    run_jobs(servers, n, measure, "BGSAVE")


if __name__ == "__main__":
    main()
