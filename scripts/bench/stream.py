#!/usr/bin/env python3
"""Streams, ferrokv against redis-server in one run.

1. XADD throughput and server CPU per request: redis-benchmark -c 50
   -r 100000 `XADD mystream * field __rand_int__` at -P 1 and -P 16 on a
   fresh server each time (so every run builds the same stream from empty);
   server CPU is utime+stime from /proc/PID/stat before and after, as
   bench.sh's cpu section measures it, and the tables are helper.py's.
2. For each size N (1k, 100k, 1M entries) each server is started fresh and
   one stream is loaded with N entries by pipelined XADDs (1,000 a batch)
   with explicit, time-like IDs 10^12+i (i = 0..N-1, sequence 0), one field
   `f` and an 8-byte value, so both servers hold identical streams. Then
   commands of each kind (COMMANDS of the XADDs, half that of the range
   reads, which cost more each) are sent pipelined, 1,000 a batch, while
   the server's CPU time is read before and after:

     XRANGE COUNT 10      from a random ID of the stream to +, COUNT 10
     XREVRANGE COUNT 10   from a random ID of the stream down to -, COUNT 10
     XADD + XDEL          a new last entry, then its deletion (N stays)
     XADD                 new last entries, the stream growing from N to
                          N+COMMANDS

   CPU per command that stays flat as N grows tenfold is what O(log N)
   looks like (a range read seeks once, then walks 10 entries).
3. Memory per entry: INFO used_memory (and VmRSS, at 1M entries and up)
   after the load minus before it, over N, on the fresh servers of 2.

Ratios are ferrokv/redis, the median of the per-round ratios; the servers
take turns by round (A B, then B A, ...) and every figure is a median over
rounds.

Usage: stream.py ROUNDS FERROKV_BINARY [REDIS_SERVER] [--sizes=1000,100000]
                 [--xadd-n=P1_REQUESTS,P16_REQUESTS] [--commands=N]
Prints markdown tables. Runs on loopback only and stops by itself.
"""

import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helper  # noqa: E402
import persist  # noqa: E402
from persist import free_port  # noqa: E402

SIZES = [1_000, 100_000, 1_000_000]
BATCH = 1_000
# XADDs of each kind per measurement, and half as many range reads: enough
# that /proc's 10 ms clock ticks stay a few percent of the total.
COMMANDS = 200_000
# Sizes from which VmRSS is measured too: it needs a settled reading of a
# second or more, and is noise next to a small stream.
RSS_FROM = 1_000_000
# redis-benchmark requests for the XADD runs at -P 1 and -P 16 (bench.sh
# passes its N_P1 and N_P16).
XADD_N = (100_000, 500_000)
CLIENTS = 50
KEYSPACE = 100_000
BASE_MS = 10 ** 12  # entry i has the ID 1000000000000+i, 13 digits


def entry_id(i):
    return b"%d-0" % (BASE_MS + i)


def value(i):
    return b"v%07d" % (i % 10 ** 7)  # 8 bytes


def encode(args):
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def bulk(b):
    return b"$%d\r\n%s\r\n" % (len(b), b)


def entry_reply(i):
    """The reply's array for entry i: [id, [f, value]]."""
    return b"*2\r\n" + bulk(entry_id(i)) + b"*2\r\n" + bulk(b"f") + bulk(value(i))


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


class Batch:
    """Pipelined commands whose replies have a known length: sent in
    batches, each batch's replies read as one block of bytes and checked
    against what they must contain (so Python's parsing stays out of the
    way of a server doing millions of commands)."""

    def __init__(self):
        self.parts = []  # (request bytes, commands, reply bytes, check)

    def add(self, requests, count, reply_len, check):
        """`count` is what `check` counts: commands, or pairs of them."""
        self.parts.append((b"".join(requests), count, reply_len, check))


def recv_exact(sock, n):
    buf = bytearray(n)
    view = memoryview(buf)
    got = 0
    while got < n:
        try:
            k = sock.recv_into(view[got:], n - got)
        except socket.timeout:
            raise RuntimeError("timed out after %d of %d reply bytes; they begin %r"
                               % (got, n, bytes(buf[:200])))
        if not k:
            raise RuntimeError("connection closed after %d of %d reply bytes; they begin %r"
                               % (got, n, bytes(buf[:200])))
        got += k
    return bytes(buf)


def run_batches(sock, batch):
    for data, count, reply_len, check in batch.parts:
        sock.sendall(data)
        replies = recv_exact(sock, reply_len)
        check(replies, count)


def expect_count(what, pattern, first=None):
    """A check: the block holds `pattern` once per command and, if given,
    begins with `first`."""
    def check(replies, count):
        if replies.count(pattern) != count or (first is not None and not replies.startswith(first)):
            raise RuntimeError("unexpected replies to %s: %r" % (what, replies[:200]))
    return check


def xadd_batches(start, stop):
    """XADD s ID f VALUE for entries start..stop-1, 1,000 a batch."""
    batch = Batch()
    for b in range(start, stop, BATCH):
        ids = range(b, min(stop, b + BATCH))
        reqs = [encode((b"XADD", b"s", entry_id(i), b"f", value(i))) for i in ids]
        reply = bulk(entry_id(ids[0]))
        batch.add(reqs, len(ids), len(reply) * len(ids), expect_count("XADD", b"-0\r\n", reply))
    return batch


def range_batches(n, k, rng, reverse):
    """k XRANGE (or XREVRANGE) COUNT 10 from random IDs that have 10
    entries on their side."""
    batch = Batch()
    one = len(b"*10\r\n") + len(entry_reply(0)) * 10  # every ID has 13 digits
    name = b"XREVRANGE" if reverse else b"XRANGE"
    for b in range(0, k, BATCH):
        count = min(BATCH, k - b)
        if reverse:
            starts = [rng.randrange(9, n) for _ in range(count)]
            reqs = [encode((name, b"s", b"%d" % (BASE_MS + j), b"-", b"COUNT", b"10")) for j in starts]
            first = b"*10\r\n" + b"".join(entry_reply(j) for j in range(starts[0], starts[0] - 10, -1))
        else:
            starts = [rng.randrange(0, n - 9) for _ in range(count)]
            reqs = [encode((name, b"s", b"%d" % (BASE_MS + j), b"+", b"COUNT", b"10")) for j in starts]
            first = b"*10\r\n" + b"".join(entry_reply(j) for j in range(starts[0], starts[0] + 10))
        batch.add(reqs, count, one * count, expect_count(name.decode(), b"*10\r\n*2\r\n", first))
    return batch


def add_del_batches(n, k):
    """k/2 pairs: XADD a new last entry, XDEL it."""
    batch = Batch()
    for b in range(0, k // 2, BATCH // 2):
        ids = range(n + b, n + min(k // 2, b + BATCH // 2))
        reqs = [encode((b"XADD", b"s", entry_id(i), b"f", value(i))) + encode((b"XDEL", b"s", entry_id(i)))
                for i in ids]
        reply = bulk(entry_id(ids[0])) + b":1\r\n"
        batch.add(reqs, len(ids), len(reply) * len(ids),
                  expect_count("XADD + XDEL", b"-0\r\n:1\r\n", reply))
    return batch


def measure_size(cmd, n, loads, kinds):
    """On a fresh server: load n entries (memory before and after), then
    CPU ns per command of each kind."""
    workdir = tempfile.mkdtemp(prefix="ferrokv-stream-bench-")
    port = free_port()
    proc = persist.start(cmd, port, workdir)
    hz = os.sysconf("SC_CLK_TCK")
    try:
        probe = helper.Conn(port, timeout=60.0)
        used0 = helper.info_field(probe, "used_memory") or "na"
        big = n >= RSS_FROM
        rss0 = helper.settle_rss_kb(proc.pid, 1.0) if big else None
        loader = socket.create_connection(("127.0.0.1", port), timeout=60.0)
        loader.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        run_batches(loader, loads)
        loader.close()
        xlen = probe.call("XLEN", "s")
        if xlen != n:
            raise RuntimeError("XLEN is %r after loading %d entries" % (xlen, n))
        helper.wait_alone(probe)
        used1 = helper.info_field(probe, "used_memory") or "na"
        rss1 = helper.settle_rss_kb(proc.pid, 4.0, at_least=1.2) if big else None
        memory = (helper.growth_per(used0, used1, 1, n),
                  helper.growth_per(rss0, rss1, 1024, n) if big else None)
        c = socket.create_connection(("127.0.0.1", port), timeout=60.0)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        cpu = {}
        for name, (batch, commands) in kinds.items():
            before = cpu_ticks(proc.pid)
            run_batches(c, batch)
            after = cpu_ticks(proc.pid)
            cpu[name] = (after - before) / hz / commands * 1e9
        c.close()
        probe.close()
        return cpu, memory
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def xadd_rb(cmd, pipeline, requests):
    """redis-benchmark XADD on a fresh server: (rps, p50, p99, ticks, note)."""
    workdir = tempfile.mkdtemp(prefix="ferrokv-stream-bench-")
    port = free_port()
    proc = persist.start(cmd, port, workdir)
    try:
        before = cpu_ticks(proc.pid)
        r = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(CLIENTS),
                            "-n", str(requests), "-r", str(KEYSPACE), "-P", str(pipeline), "--csv",
                            "XADD", "mystream", "*", "field", "__rand_int__"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=300)
        after = cpu_ticks(proc.pid)
        if proc.poll() is not None:
            raise RuntimeError("the server exited during redis-benchmark XADD")
        row = r.stdout.decode(errors="replace").strip().splitlines()[-1:] or [""]
        cells = [c.strip('"') for c in row[0].split(",")]
        if r.returncode != 0 or len(cells) < 7 or cells[0] == "test":
            return ("na", "na", "na", "na",
                    "redis-benchmark exit %d: %s" % (r.returncode, r.stderr.decode(errors="replace")[:100]))
        c = helper.Conn(port)
        xlen = c.call("XLEN", "mystream")
        c.close()
        if xlen != requests:
            return ("na", "na", "na", "na", "XLEN %r after %d XADDs" % (xlen, requests))
        return (cells[1], cells[4], cells[6], str(after - before), "-")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def log(msg):
    print("stream: " + msg, file=sys.stderr)
    sys.stderr.flush()


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    sizes, xadd_n, commands = SIZES, XADD_N, COMMANDS
    for a in sys.argv[1:]:
        if a.startswith("--sizes="):
            sizes = [int(s) for s in a.split("=", 1)[1].split(",")]
        elif a.startswith("--xadd-n="):
            xadd_n = tuple(int(s) for s in a.split("=", 1)[1].split(","))
        elif a.startswith("--commands="):
            commands = int(a.split("=", 1)[1])
        elif a.startswith("--"):
            sys.exit("stream.py: unknown option %r" % a)
    if len(args) < 2 or any(s < 10 for s in sizes) or len(xadd_n) != 2:
        sys.exit(__doc__)
    rounds, ferrokv = int(args[0]), args[1]
    redis = args[2] if len(args) > 2 else "redis-server"
    servers = {"ferrokv": [ferrokv], "redis": [redis]}
    names = list(servers)
    hz = os.sysconf("SC_CLK_TCK")
    tmp = tempfile.mkdtemp(prefix="ferrokv-stream-report-")
    try:
        # 1. XADD with redis-benchmark, a fresh server per run.
        rps_tsv, cpu_tsv = os.path.join(tmp, "rps.tsv"), os.path.join(tmp, "cpu.tsv")
        with open(rps_tsv, "w") as rps_f, open(cpu_tsv, "w") as cpu_f:
            for r in range(rounds):
                order = names if r % 2 == 0 else names[::-1]
                progress = []
                for pipeline, requests in zip((1, 16), xadd_n):
                    for name in order:
                        rps, p50, p99, ticks, note = xadd_rb(servers[name], pipeline, requests)
                        rps_f.write("\t".join([name, str(r + 1), "XADD", str(pipeline), rps, p50, p99, note]) + "\n")
                        cpu_f.write("\t".join([name, str(r + 1), "XADD", str(pipeline), str(requests),
                                               ticks, str(hz)]) + "\n")
                        progress.append("P%d %s=%s" % (pipeline, name, rps))
                log("XADD round %d/%d: %s" % (r + 1, rounds, " ".join(progress)))
        print("XADD with redis-benchmark (`XADD mystream * field __rand_int__`, -c %d -r %d; a fresh "
              "server per run, so each builds its stream from empty, ending at %s entries at -P 1 "
              "and %s at -P 16); medians of %d rounds."
              % (CLIENTS, KEYSPACE, "{:,}".format(xadd_n[0]), "{:,}".format(xadd_n[1]), rounds))
        print()
        helper.report_throughput(rps_tsv, names)
        print()
        print("Server CPU per XADD (utime+stime from /proc/PID/stat, CLK_TCK=%d, the same runs)." % hz)
        print()
        helper.report_cpu(cpu_tsv, names)

        # 2 and 3. Streams of each size: CPU per command and memory.
        cpu = {}  # (n, kind) -> server -> round -> ns
        mem = {}  # (n, column) -> server -> round -> bytes per entry
        kind_order = []
        reads = commands // 2
        for n in sizes:
            # The same commands in every round: encoding them is most of
            # this script's own time.
            loads = xadd_batches(0, n)
            rng = random.Random(n)
            kinds = {
                "XRANGE start + COUNT 10": (range_batches(n, reads, rng, False), reads),
                "XREVRANGE end - COUNT 10": (range_batches(n, reads, rng, True), reads),
                "XADD + XDEL (length stays N)": (add_del_batches(n, commands), commands // 2 * 2),
                "XADD (N to N+%s)" % "{:,}".format(commands): (xadd_batches(n + commands, n + 2 * commands),
                                                               commands),
            }
            for r in range(rounds):
                order = names if r % 2 == 0 else names[::-1]
                for name in order:
                    log("%s entries, round %d/%d, %s" % ("{:,}".format(n), r + 1, rounds, name))
                    per_cmd, memory = measure_size(servers[name], n, loads, kinds)
                    for kind, ns in per_cmd.items():
                        if kind not in kind_order:
                            kind_order.append(kind)
                        cpu.setdefault((n, kind), {}).setdefault(name, {})[r] = ns
                    for col, v in zip(("used", "rss"), memory):
                        mem.setdefault((n, col), {}).setdefault(name, {})[r] = v
        print()
        print("Server CPU per command (utime+stime, ns) on one stream of N entries (explicit IDs "
              "10^12+i, one field, 8-byte values); %s range reads from random IDs and %s XADDs of "
              "each kind, pipelined 1,000 a batch; a fresh server per size and round; medians of "
              "%d rounds. XADD + XDEL is per command (two per pair); XADD adds entries past the last."
              % ("{:,}".format(reads), "{:,}".format(commands), rounds))
        print()
        header = ["entries", "command"] + ["%s ns" % s for s in names] + ["ferrokv/redis"]
        rows = []
        for n in sizes:
            for kind in kind_order:
                d = cpu[(n, kind)]
                rows.append(["{:,}".format(n), kind]
                            + [helper.fmt(helper.median_or_none(d[s].values()), 0) for s in names]
                            + [helper.fmt(helper.median_ratio(d["ferrokv"], d["redis"]), 2)])
        helper.table(header, rows)
        print()
        print("Memory per stream entry: growth of INFO used_memory (and of VmRSS, its lowest over "
              "at least 1.2 s, at %s entries and up) from the empty server to the loaded "
              "stream, over N; same streams and servers as above; medians of %d rounds."
              % ("{:,}".format(RSS_FROM), rounds))
        print()
        header = ["entries"] + ["%s used_memory B/entry" % s for s in names] + ["ferrokv/redis"]
        header += ["%s RSS B/entry" % s for s in names] + ["ferrokv/redis"]
        rows = []
        for n in sizes:
            row = ["{:,}".format(n)]
            for col in ("used", "rss"):
                d = mem[(n, col)]
                row += [helper.fmt(helper.median_or_none(d[s].values()), 1) for s in names]
                row.append(helper.fmt(helper.median_ratio(d["ferrokv"], d["redis"]), 2))
            rows.append(row)
        helper.table(header, rows)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
