#!/usr/bin/env python3
"""Sorted sets at growing sizes, ferrokv against redis-server in one run.

For each size N (1k, 10k, 100k, 1M members, 16-byte members and random
scores) each server is started fresh, one sorted set is loaded with N
members by pipelined many-member ZADDs, and then commands of each kind are
sent pipelined (1,000 a batch) while the server's CPU time (utime + stime
from /proc/PID/stat) is read before and after:

  ZADD new + ZREM   a member the set lacks, then its removal (N stays)
  ZADD update       a random member moved to a new random score
  ZRANK             a random member
  ZRANGEBYSCORE     from a random score, LIMIT 0 10

CPU per command that stays flat (or grows by a constant per tenfold size)
as N grows tenfold is what O(log N) looks like; the ratio column is
ferrokv's CPU over redis-server's. The servers take turns by round and
each figure is the median over rounds.

Usage: zset.py ROUNDS FERROKV_BINARY [REDIS_SERVER] [--sizes 1000,10000]
Prints a markdown table. Runs on loopback only and stops by itself.
"""

import os
import random
import shutil
import socket
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import persist  # noqa: E402
from persist import free_port  # noqa: E402

SIZES = [1_000, 10_000, 100_000, 1_000_000]
BATCH = 1_000
# Commands of each kind per measurement: enough that /proc's 10 ms clock
# ticks stay a few percent of the total.
COMMANDS = 200_000


def member(i):
    return b"member:%09d" % i  # 16 bytes


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def skip_reply(self):
        """Reads one reply of any shape and returns its first line."""
        first = self.line()
        kind = first[:1]
        if kind == b"-":
            raise RuntimeError(first.decode())
        if kind == b"$" and int(first[1:]) >= 0:
            self.line()
        elif kind == b"*":
            for _ in range(max(0, int(first[1:]))):
                self.skip_reply()
        return first

    def pipeline(self, commands):
        for start in range(0, len(commands), BATCH):
            chunk = commands[start:start + BATCH]
            self.sock.sendall(b"".join(encode(c) for c in chunk))
            for _ in chunk:
                self.skip_reply()


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def measure(cmd, n, k, seed):
    """CPU ns per command of each kind on a fresh server with a set of n."""
    rng = random.Random(seed)
    workdir = tempfile.mkdtemp(prefix="ferrokv-zset-bench-")
    port = free_port()
    proc = persist.start(cmd, port, workdir)
    hz = os.sysconf("SC_CLK_TCK")
    try:
        c = Conn(port)
        for start in range(0, n, 500):
            args = [b"ZADD", b"z"]
            for i in range(start, min(n, start + 500)):
                args += [b"%d" % rng.randrange(1 << 40), member(i)]
            c.pipeline([args])
        score = lambda: b"%d" % rng.randrange(1 << 40)  # noqa: E731
        fresh = [member(n + i) for i in range(k // 2)]
        kinds = {
            # A new member, then its removal: the set stays at n.
            "ZADD new + ZREM": [c for m in fresh for c in ([b"ZADD", b"z", score(), m], [b"ZREM", b"z", m])],
            "ZADD update": [[b"ZADD", b"z", score(), member(rng.randrange(n))] for _ in range(k)],
            "ZRANK": [[b"ZRANK", b"z", member(rng.randrange(n))] for _ in range(k)],
            "ZRANGEBYSCORE LIMIT 0 10": [[b"ZRANGEBYSCORE", b"z", score(), b"+inf", b"LIMIT", b"0", b"10"]
                                         for _ in range(k)],
        }
        result = {}
        for name, commands in kinds.items():
            before = cpu_ticks(proc.pid)
            c.pipeline(commands)
            after = cpu_ticks(proc.pid)
            result[name] = (after - before) / hz / len(commands) * 1e9
        return result
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    sizes = SIZES
    for a in sys.argv[1:]:
        if a.startswith("--sizes="):
            sizes = [int(s) for s in a.split("=", 1)[1].split(",")]
    rounds, ferrokv = int(args[0]), args[1]
    redis = args[2] if len(args) > 2 else "redis-server"
    servers = {"ferrokv": [ferrokv], "redis": [redis]}
    rows = []
    for n in sizes:
        per = {name: {} for name in servers}
        for r in range(rounds):
            order = list(servers) if r % 2 == 0 else list(reversed(servers))
            for name in order:
                print("zset: %d members, round %d, %s" % (n, r + 1, name), file=sys.stderr)
                for kind, ns in measure(servers[name], n, COMMANDS, r).items():
                    per[name].setdefault(kind, []).append(ns)
        for kind in per["ferrokv"]:
            f = statistics.median(per["ferrokv"][kind])
            rd = statistics.median(per["redis"][kind])
            rows.append((n, kind, f, rd, f / rd if rd else float("nan")))
    print("Server CPU per command (utime+stime, ns), %d commands of each kind pipelined "
          "1,000 a batch, 16-byte members, random scores; medians of %d rounds." % (COMMANDS, rounds))
    print()
    print("| members | command | ferrokv ns | redis ns | ferrokv/redis |")
    print("|---|---|---|---|---|")
    for n, kind, f, rd, ratio in rows:
        print("| %d | %s | %.0f | %.0f | %.2f |" % (n, kind, f, rd, ratio))


if __name__ == "__main__":
    main()
