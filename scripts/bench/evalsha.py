#!/usr/bin/env python3
"""Lua scripting: rate limiters by EVALSHA, ferrokv against redis-server.

A rate limiter is the classic small script: a handful of commands on one
key that must run atomically, called once per request of the application,
so what it costs is the server's cost of entering a script, not of the
commands in it. Each run is redis-benchmark -c 50 -r KEYSPACE at -P 1 and
-P 16 against a fresh server, with the script loaded first (SCRIPT LOAD),
one of:

  INCR (no script)       `INCR key:__rand_int__`, the fixed window's one
                         write without a script, for scale
  EVALSHA fixed window   `EVALSHA <sha> 1 key:__rand_int__ 100 1000`:
                         INCR the key; on 1 (a new window) PEXPIRE it by
                         the window, 1000 ms; return 1 while the count is
                         at most the limit, 100, else 0
  EVAL fixed window      the same script sent whole with EVAL each time (what
                         a client without a script cache sends, and BullMQ's
                         and redis-py's fallback after NOSCRIPT)
  EVALSHA sliding window `EVALSHA <sha> 1 key:__rand_int__ 1000 100
                         __rand_int__`: a sorted-set log of the requests
                         in the last 1000 ms (TIME inside the script for
                         now; ZREMRANGEBYSCORE what fell out of the
                         window, ZCARD, and while under the limit, 100,
                         ZADD the request and PEXPIRE the key by the
                         window); 1 if admitted, else 0

redis-benchmark fills each __rand_int__ with its own random number below
KEYSPACE. With 10,000 keys a key gets far fewer than the limit's 100
requests in a window at these rates, so nearly every request is admitted
and takes the script's longer path, whichever server is faster (a server
that rejected more would do less work per request). Reported: throughput and p50/p99 latency, and server CPU per
request (utime+stime from /proc/PID/stat before and after the run, as
bench.sh's cpu section measures it), in helper.py's tables. After each
run the server's INFO commandstats must show exactly the requests sent as
calls of the command, none failed or rejected, and the keys must be of the
script's type: a run whose script errored is reported n/a, not measured.
Ratios are ferrokv/redis, the median of the per-round ratios; the servers
take turns by round (A B, then B A, ...), and every figure is a median
over rounds. A server that does not know EVALSHA, EVAL or SCRIPT is n/a
for those rows.

Usage: evalsha.py ROUNDS FERROKV_BINARY [REDIS_SERVER]
                  [--requests=P1_REQUESTS,P16_REQUESTS] [--keyspace=N]
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
from persist import free_port  # noqa: E402

CLIENTS = 50
KEYSPACE = 10_000
REQUESTS = (200_000, 1_000_000)  # at -P 1 and at -P 16
LIMIT = 100
WINDOW_MS = 1000

FIXED_WINDOW = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if n <= tonumber(ARGV[1]) then
    return 1
end
return 0
""".strip()

SLIDING_WINDOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], window)
    return 1
end
return 0
""".strip()

KEY = "key:__rand_int__"

# name | script to load first (or None) | command stat that counts the
# requests | the type of the keys afterwards | arguments, where "{sha}"
# is the loaded script's SHA1.
TESTS = [
    ("INCR (no script)", None, "incr", "string", ["INCR", KEY]),
    ("EVALSHA fixed window", FIXED_WINDOW, "evalsha", "string",
     ["EVALSHA", "{sha}", "1", KEY, str(LIMIT), str(WINDOW_MS)]),
    ("EVAL fixed window", None, "eval", "string",
     ["EVAL", FIXED_WINDOW, "1", KEY, str(LIMIT), str(WINDOW_MS)]),
    ("EVALSHA sliding window", SLIDING_WINDOW, "evalsha", "zset",
     ["EVALSHA", "{sha}", "1", KEY, str(WINDOW_MS), str(LIMIT), "__rand_int__"]),
]


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def command_stats(conn, name):
    """calls, failed_calls and rejected_calls of cmdstat_<name> (zeros when absent)."""
    r = conn.call("INFO", "commandstats")
    stats = {"calls": 0, "failed_calls": 0, "rejected_calls": 0}
    if not isinstance(r, bytes):
        return stats
    for line in r.decode(errors="replace").splitlines():
        if line.startswith("cmdstat_%s:" % name):
            for item in line.split(":", 1)[1].split(","):
                k, _, v = item.partition("=")
                if k in stats:
                    stats[k] = int(float(v))
    return stats


def unknown(reply):
    """The note for a command the server does not know, else None."""
    if helper.is_error(reply) and reply[1].startswith("ERR unknown command"):
        return reply[1]
    return None


def run_one(cmd, test, pipeline, requests, keyspace):
    """redis-benchmark of one test on a fresh server: (rps, p50, p99, ticks, note)."""
    name, script, stat, key_type, args = test
    na = ("na", "na", "na", "na")
    workdir = tempfile.mkdtemp(prefix="ferrokv-evalsha-bench-")
    port = free_port()
    proc = persist.start(cmd, port, workdir)
    try:
        c = helper.Conn(port, timeout=60.0)
        if script is not None:
            sha = c.call("SCRIPT", "LOAD", script)
            if unknown(sha):
                return na + ("unknown command SCRIPT",)
            if not isinstance(sha, bytes) or len(sha) != 40:
                return na + ("SCRIPT LOAD answered %r" % (sha,),)
            args = [sha.decode() if a == "{sha}" else a for a in args]
        # One call by hand: an unknown command or a script error is n/a.
        probe = [a.replace("__rand_int__", "probe") for a in args]
        r = c.call(*probe)
        if unknown(r):
            return na + ("unknown command %s" % args[0],)
        if r not in (1, 0) and not (stat == "incr" and isinstance(r, int)):
            return na + ("%s answered %r" % (args[0], r),)
        c.call("FLUSHALL")
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
        # Every request ran the command, and none of them failed.
        stats = command_stats(c, stat)
        if stats != {"calls": requests, "failed_calls": 0, "rejected_calls": 0}:
            return na + ("cmdstat_%s %r after %d requests" % (stat, stats, requests),)
        some = c.call("RANDOMKEY")
        kind = c.call("TYPE", some) if isinstance(some, bytes) else None
        if kind != key_type:
            return na + ("a key of type %r after the run, not %s" % (kind, key_type),)
        c.close()
        return (cells[1], cells[4], cells[6], str(after - before), "-")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(workdir, ignore_errors=True)


def log(msg):
    print("evalsha: " + msg, file=sys.stderr)
    sys.stderr.flush()


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    requests, keyspace = REQUESTS, KEYSPACE
    for a in sys.argv[1:]:
        if a.startswith("--requests="):
            requests = tuple(int(s) for s in a.split("=", 1)[1].split(","))
        elif a.startswith("--keyspace="):
            keyspace = int(a.split("=", 1)[1])
        elif a.startswith("--"):
            sys.exit("evalsha.py: unknown option %r" % a)
    if len(args) < 2 or len(requests) != 2:
        sys.exit(__doc__)
    rounds, ferrokv = int(args[0]), args[1]
    redis = args[2] if len(args) > 2 else "redis-server"
    servers = {"ferrokv": [ferrokv], "redis": [redis]}
    names = list(servers)
    hz = os.sysconf("SC_CLK_TCK")
    tmp = tempfile.mkdtemp(prefix="ferrokv-evalsha-report-")
    try:
        rps_tsv, cpu_tsv = os.path.join(tmp, "rps.tsv"), os.path.join(tmp, "cpu.tsv")
        with open(rps_tsv, "w") as rps_f, open(cpu_tsv, "w") as cpu_f:
            for r in range(rounds):
                order = names if r % 2 == 0 else names[::-1]
                for test in TESTS:
                    progress = []
                    for pipeline, n in zip((1, 16), requests):
                        for name in order:
                            rps, p50, p99, ticks, note = run_one(servers[name], test, pipeline, n, keyspace)
                            rps_f.write("\t".join([name, str(r + 1), test[0], str(pipeline), rps, p50, p99,
                                                   note]) + "\n")
                            cpu_f.write("\t".join([name, str(r + 1), test[0], str(pipeline), str(n), ticks,
                                                   str(hz)]) + "\n")
                            progress.append("P%d %s=%s" % (pipeline, name, rps))
                    log("round %d/%d, %s: %s" % (r + 1, rounds, test[0], " ".join(progress)))
        print("Rate limiters as Lua scripts (redis-benchmark -c %d, -r %s keys, %s requests at -P 1 and "
              "%s at -P 16; a fresh server per run, the script loaded with SCRIPT LOAD first; limit %d "
              "per %d ms window; medians of %d rounds). The scripts are in scripts/bench/evalsha.py."
              % (CLIENTS, "{:,}".format(keyspace), "{:,}".format(requests[0]), "{:,}".format(requests[1]),
                 LIMIT, WINDOW_MS, rounds))
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
