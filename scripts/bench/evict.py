#!/usr/bin/env python3
"""maxmemory and eviction, ferrokv against redis-server in one run.

1. The cache workload: `redis-benchmark -t set -r 10000000 -d 100 -n
   REQUESTS` (-c 50, -P 1) against a fresh server given `maxmemory 100mb`
   and `maxmemory-policy allkeys-lru` (CONFIG SET right after start-up).
   Reports throughput and server CPU per request (utime+stime from
   /proc/PID/stat before and after; helper.py's tables), and, from a
   separate connection that sends INFO memory every ~100 ms during the run,
   the highest used_memory seen (over maxmemory: whether it stayed at or
   below the limit), the highest used_memory_rss, and the process's peak
   RSS (VmHWM); at the end INFO's evicted_keys and DBSIZE. 1,000,000
   requests over 10M possible keys write ~950k distinct keys, about 1.7x
   what 100 MB holds in Redis, so evictions start after roughly 60% of the
   run; the issue's figure is -n 5000000 (--requests=5000000).
   Redis checks maxmemory before each command, so its used_memory may pass
   the limit by what one command and the clients' buffers add; a server
   that does not evict passes it by the whole excess.

2. LRU (and LFU) hit ratio of a skewed read workload: KEYS keys (200,000)
   whose popularity follows Zipf (rank r drawn with weight 1/r^S, S=1.0),
   the sequence drawn once from a seeded PRNG so every server sees the
   same one. Cache-aside: batches of 100 pipelined GETs, then one pipelined
   SET (100-byte value) for each GET that missed, in batch order (a key
   that misses twice in one batch is set twice). WARMUP GETs (200,000),
   then hits/(hits+misses) over the next OPS GETs (500,000). Cross-check:
   the growth of INFO keyspace_hits and keyspace_misses over the measured
   GETs (SET does not count as a lookup in Redis).
   Cache size: per-key overheads differ between servers, so maxmemory is
   set for each server separately to what holds KEYS/10 keys there: on the
   fresh server, SET the KEYS/10 most popular keys (with the workload's
   key names and 100-byte values) with no limit, read used_memory (the
   empty server's own memory included), FLUSHALL SYNC, then CONFIG SET
   maxmemory to that reading and the policy. DBSIZE after the run shows
   how many keys the limit really held.
   Reference rows, computed here over the same sequence and batching: an
   exact LRU cache of KEYS/10 keys, and the share of measured GETs that
   fall on the KEYS/10 most popular keys (what a perfect static LFU would
   hit). Redis's LRU and LFU are approximations (maxmemory-samples 5 and
   its eviction pool), so a server's figure varies a little from run to
   run with its own sampling randomness even though the workload is fixed;
   the min-max over rounds shows how much. Redis's LRU clock also ticks
   only once a second, so the whole measured run spans a few ticks and keys
   used within one tick look equally old: its LRU ratio depends on the
   run's wall time ("run s"), and a server with a finer clock can do better.

3. What each policy evicts (all eight, one run per server): under
   `maxmemory 12mb`, 1,000 hot keys (half with no TTL, half with the
   longest), then 200,000 cold SETs (nine in ten with a TTL of
   1,000..100,999 s), the hot keys read after every 2,000 cold SETs.
   Reports SETs accepted and refused (OOM), evicted_keys, DBSIZE, keys
   with a TTL, how many hot keys and how many cold keys of each kind are
   left, the median TTL of the volatile keys left, and the peak
   used_memory (INFO after every batch) over maxmemory: a fingerprint of
   each policy (noeviction refuses, volatile-* spare keys without a TTL,
   lru/lfu keep the hot keys, random does not, volatile-ttl keeps the
   longest TTLs).

Every server is fresh (a temporary directory, --save '' --appendonly no, cwd
outside any repository) and is killed at the end, also on error or signal.
Servers take turns by round (A B, then B A, ...); figures are medians over
rounds, ratios the median of per-round ratios.

Usage: evict.py ROUNDS FERROKV_BINARY [REDIS_SERVER] [--requests=N]
         [--keyspace=N] [--maxmemory=100mb] [--policy=allkeys-lru]
         [--keys=N] [--zipf=S] [--warmup=N] [--ops=N] [--seed=N]
         [--policies=allkeys-lru,allkeys-lfu] [--hit-rounds=N]
         [--flood=N] [--flood-maxmemory=12mb] [--every=POLICY,...]
         [--only=cache|hits|policies]
FERROKV_BINARY may be redis-server itself, to check the kit on two Redis
servers (both columns then run Redis; the ratios should be near 1).
Prints markdown tables. Runs on loopback only and stops by itself.
"""

import bisect
import collections
import itertools
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import helper  # noqa: E402
from persist import free_port  # noqa: E402

OPTIONS = {
    "requests": 1_000_000,     # redis-benchmark -n of the cache workload
    "keyspace": 10_000_000,    # redis-benchmark -r
    "maxmemory": "100mb",
    "policy": "allkeys-lru",   # policy of the cache workload
    "keys": 200_000,           # Zipf keys of the hit-ratio workload
    "zipf": 1.0,
    "warmup": 200_000,
    "ops": 500_000,
    "seed": 1,
    "policies": "allkeys-lru,allkeys-lfu",
    "hit-rounds": 0,           # 0: as many as ROUNDS
    "only": "",                # cache, hits or policies: one part only
    "flood": 200_000,          # cold SETs per policy in part 3
    "flood-maxmemory": "12mb",
    "every": ("noeviction,allkeys-lru,allkeys-lfu,allkeys-random,"
              "volatile-lru,volatile-lfu,volatile-random,volatile-ttl"),
}
CLIENTS = 50
VALUE_SIZE = 100
BATCH = 100
POLL_S = 0.1
CACHE_FRACTION = 10            # the cache holds KEYS/10 keys

LIVE = []  # servers running now, stopped by stop() or at exit


def log(msg):
    print("evict: " + msg, file=sys.stderr)
    sys.stderr.flush()


# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------


def start(binary):
    """A fresh server on a free port in a temporary directory (also its
    cwd). Returns (proc, port, workdir)."""
    for _ in range(5):
        workdir = tempfile.mkdtemp(prefix="ferrokv-evict-bench-")
        port = free_port()
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--dir", workdir, "--loglevel", "warning"]
        proc = subprocess.Popen(argv, cwd=workdir, stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        LIVE.append((proc, workdir))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                c = helper.Conn(port, timeout=5)
                pong = c.call("PING")
                pid = helper.info_field(c, "process_id")
                c.close()
                if pong == "PONG" and (not pid or int(pid) == proc.pid):
                    return proc, port, workdir
                break  # someone else's server on that port
            except (OSError, ValueError):
                time.sleep(0.02)
        stop(proc)
    raise RuntimeError("could not start %s" % binary)


def stop(proc):
    for i, (p, workdir) in enumerate(LIVE):
        if p is proc:
            del LIVE[i]
            break
    else:
        workdir = None
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if workdir:
        shutil.rmtree(workdir, ignore_errors=True)


def stop_all():
    while LIVE:
        stop(LIVE[-1][0])


def config_set(conn, name, value):
    r = conn.call("CONFIG", "SET", name, value)
    if r != "OK":
        raise RuntimeError("CONFIG SET %s %s: %r" % (name, value, r))


def info(conn, section=None):
    """INFO [section] as a dict of strings."""
    r = conn.call("INFO", section) if section else conn.call("INFO")
    if not isinstance(r, bytes):
        raise RuntimeError("INFO replied %r" % (r,))
    out = {}
    for line in r.decode(errors="replace").splitlines():
        if ":" in line and not line.startswith("#"):
            k, v = line.split(":", 1)
            out[k] = v.strip()
    return out


def info_int(d, key):
    try:
        return int(d[key])
    except (KeyError, ValueError):
        return None


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def parse_bytes(s):
    """A redis.conf memory size (100mb, 1gb, 12345) in bytes."""
    s = s.strip().lower()
    units = {"k": 1000, "kb": 1024, "m": 1000 ** 2, "mb": 1024 ** 2, "g": 1000 ** 3, "gb": 1024 ** 3}
    for u in sorted(units, key=len, reverse=True):
        if s.endswith(u):
            return int(float(s[:-len(u)]) * units[u])
    return int(s)


# ---------------------------------------------------------------------------
# 1. The cache workload
# ---------------------------------------------------------------------------


class MemoryPoller(threading.Thread):
    """INFO memory every POLL_S on its own connection until stopped; keeps
    the highest used_memory and used_memory_rss."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.conn = helper.Conn(port, timeout=30)
        self.halt = threading.Event()
        self.samples = 0
        self.max_used = 0
        self.max_rss = 0
        self.maxmemory = None
        self.error = None

    def run(self):
        try:
            while not self.halt.is_set():
                d = info(self.conn, "memory")
                used, rss = info_int(d, "used_memory"), info_int(d, "used_memory_rss")
                self.maxmemory = info_int(d, "maxmemory")
                if used is not None:
                    self.max_used = max(self.max_used, used)
                if rss is not None:
                    self.max_rss = max(self.max_rss, rss)
                self.samples += 1
                self.halt.wait(POLL_S)
        except Exception as e:  # reported by the main thread
            self.error = e
        finally:
            self.conn.close()


def cache_run(binary, opts):
    """One fresh server, the redis-benchmark SET workload under maxmemory.
    Returns a dict of figures."""
    proc, port, _ = start(binary)
    try:
        c = helper.Conn(port, timeout=60)
        config_set(c, "maxmemory", opts["maxmemory"])
        config_set(c, "maxmemory-policy", opts["policy"])
        maxmemory = info_int(info(c, "memory"), "maxmemory")
        poller = MemoryPoller(port)
        poller.start()
        before = cpu_ticks(proc.pid)
        t0 = time.monotonic()
        r = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-c", str(CLIENTS),
                            "-n", str(opts["requests"]), "-r", str(opts["keyspace"]),
                            "-d", str(VALUE_SIZE), "-t", "set", "--csv"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=900)
        wall = time.monotonic() - t0
        after = cpu_ticks(proc.pid)
        poller.halt.set()
        poller.join(5)
        if proc.poll() is not None:
            raise RuntimeError("%s exited during redis-benchmark" % binary)
        if poller.error:
            raise RuntimeError("INFO memory poller: %s" % poller.error)
        rows = [l for l in r.stdout.decode(errors="replace").splitlines() if l.startswith('"SET"')]
        if r.returncode != 0 or not rows:
            raise RuntimeError("redis-benchmark exit %d: %s" % (
                r.returncode, r.stderr.decode(errors="replace")[-300:]))
        cells = [x.strip('"') for x in rows[-1].split(",")]
        # "test","rps","avg_latency_ms","min_latency_ms","p50","p95","p99","max"
        d = info(c)
        end_used = info_int(d, "used_memory")
        out = {
            "rps": cells[1], "p50": cells[4], "p99": cells[6],
            "ticks": after - before, "wall": wall,
            "maxmemory": maxmemory,
            "max_used": max(poller.max_used, end_used or 0),
            "max_rss": poller.max_rss,
            "hwm_kb": helper.proc_status_kb(proc.pid, "VmHWM"),
            "samples": poller.samples,
            "evicted": info_int(d, "evicted_keys"),
            "dbsize": c.call("DBSIZE"),
            "end_used": end_used,
        }
        c.close()
        return out
    finally:
        stop(proc)


def mib(b):
    return None if b is None else b / 1048576


def part_cache(servers, rounds, opts, tmp):
    names = list(servers)
    hz = os.sysconf("SC_CLK_TCK")
    rps_tsv, cpu_tsv = os.path.join(tmp, "rps.tsv"), os.path.join(tmp, "cpu.tsv")
    results = {name: {} for name in names}
    with open(rps_tsv, "w") as rps_f, open(cpu_tsv, "w") as cpu_f:
        for r in range(rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                res = cache_run(servers[name], opts)
                results[name][r + 1] = res
                rps_f.write("\t".join([name, str(r + 1), "SET -d 100", "1", res["rps"], res["p50"],
                                       res["p99"], "-"]) + "\n")
                cpu_f.write("\t".join([name, str(r + 1), "SET -d 100", "1", str(opts["requests"]),
                                       str(res["ticks"]), str(hz)]) + "\n")
                log("cache workload round %d/%d %s: %s req/s, peak used_memory %.1f MiB of %.1f MiB, "
                    "evicted %s, dbsize %s (%.1f s)" % (
                        r + 1, rounds, name, res["rps"], mib(res["max_used"]), mib(res["maxmemory"] or 0),
                        res["evicted"], res["dbsize"], res["wall"]))
    print("### The cache workload under maxmemory")
    print()
    print("`redis-benchmark -t set -r %d -d %d -n %d -c %d` (-P 1) against a fresh server with "
          "`maxmemory %s`, `maxmemory-policy %s` (CONFIG SET after start-up); medians of %d rounds, "
          "servers taking turns."
          % (opts["keyspace"], VALUE_SIZE, opts["requests"], CLIENTS, opts["maxmemory"], opts["policy"], rounds))
    print()
    helper.report_throughput(rps_tsv, names)
    print()
    print("Server CPU per SET (utime+stime from /proc/PID/stat, CLK_TCK=%d, the same runs)." % hz)
    print()
    helper.report_cpu(cpu_tsv, names)
    print()
    print("Memory during the same runs: INFO memory polled every %d ms on a separate connection "
          "(highest used_memory and used_memory_rss seen, the final INFO included); VmHWM is the "
          "process's peak RSS from /proc; evicted_keys (INFO stats) and DBSIZE at the end. "
          "\"<= maxmemory\" counts the rounds whose highest used_memory stayed at or under the limit; "
          "Redis itself passes it by a little, since it evicts before each command, not after."
          % (POLL_S * 1000))
    print()
    header = ["server", "maxmemory MiB", "peak used_memory MiB", "peak - maxmemory KiB", "<= maxmemory",
              "peak used_memory_rss MiB", "VmHWM MiB", "evicted_keys", "dbsize", "INFO samples"]
    rows = []
    for name in names:
        res = results[name].values()
        med = lambda f: helper.median_or_none([f(x) for x in res])  # noqa: E731
        within = sum(1 for x in res if x["maxmemory"] and x["max_used"] <= x["maxmemory"])
        rows.append([
            name,
            helper.fmt(med(lambda x: mib(x["maxmemory"])), 1),
            helper.fmt(med(lambda x: mib(x["max_used"])), 1),
            helper.fmt(med(lambda x: (x["max_used"] - x["maxmemory"]) / 1024 if x["maxmemory"] else None), 1),
            "%d of %d" % (within, len(res)),
            helper.fmt(med(lambda x: mib(x["max_rss"])), 1),
            helper.fmt(med(lambda x: x["hwm_kb"] / 1024 if x["hwm_kb"] >= 0 else None), 1),
            helper.fmt(med(lambda x: x["evicted"]), 0),
            helper.fmt(med(lambda x: x["dbsize"] if isinstance(x["dbsize"], int) else None), 0),
            helper.fmt(med(lambda x: x["samples"]), 0),
        ])
    helper.table(header, rows)
    notes = []
    for name in names:
        res = list(results[name].values())
        over = [x["max_used"] - x["maxmemory"] for x in res if x["maxmemory"]]
        if not any(x["evicted"] for x in res):
            notes.append("- %s evicted no keys in any round (peak used_memory %.1f MiB, maxmemory %.1f MiB)"
                         % (name, mib(max(x["max_used"] for x in res)), mib(res[0]["maxmemory"] or 0)))
        if over and max(over) > 1024 * 1024:
            notes.append("- %s went more than 1 MiB over maxmemory (by up to %.1f MiB): it does not hold "
                         "the limit" % (name, max(over) / 1048576))
    if notes:
        print()
        print("\n".join(notes))


# ---------------------------------------------------------------------------
# 2. Hit ratio of a Zipf read workload, cache-aside
# ---------------------------------------------------------------------------


def zipf_sequence(n, s, count, seed):
    """`count` ranks in 0..n-1, rank r drawn with weight 1/(r+1)^s."""
    cum = list(itertools.accumulate(1.0 / (r + 1) ** s for r in range(n)))
    rng = random.Random(seed)
    total = cum[-1]
    hi = n - 1
    return [min(bisect.bisect(cum, rng.random() * total), hi) for _ in range(count)]


def key_name(rank):
    return b"zk:%07d" % rank


VALUE = b"v" * VALUE_SIZE


def encoded_gets(seq):
    """The GET batches, encoded once: (bytes, keys) per batch."""
    gets = {}
    out = []
    for b in range(0, len(seq), BATCH):
        ranks = seq[b:b + BATCH]
        data = b"".join(gets.get(r) or gets.setdefault(r, helper.encode([b"GET", key_name(r)])) for r in ranks)
        out.append((data, ranks))
    return out


def read_gets(conn, count):
    """`count` GET replies: the list of hit (True) / miss (False)."""
    out = []
    for _ in range(count):
        r = conn.reply()
        if isinstance(r, tuple):
            raise RuntimeError("GET replied %s" % r[1])
        out.append(r is not None)
    return out


def run_batches(conn, batches):
    """Cache-aside over the batches; returns (hits, misses)."""
    hits = misses = 0
    for data, ranks in batches:
        conn.sock.sendall(data)
        found = read_gets(conn, len(ranks))
        missed = [r for r, f in zip(ranks, found) if not f]
        hits += len(ranks) - len(missed)
        misses += len(missed)
        if missed:
            conn.sock.sendall(b"".join(helper.encode([b"SET", key_name(r), VALUE]) for r in missed))
            for _ in missed:
                r = conn.reply()
                if r != "OK":
                    raise RuntimeError("SET replied %r" % (r,))
    return hits, misses


def calibrate(conn, keys):
    """used_memory with the `keys` most popular keys stored (cache size)."""
    cmds = [[b"SET", key_name(r), VALUE] for r in range(keys)]
    err = conn.pipeline(cmds, batch=1000)
    if err:
        raise RuntimeError("loading the calibration keys: %s" % err)
    if conn.call("DBSIZE") != keys:
        raise RuntimeError("DBSIZE is not %d after the calibration load" % keys)
    used = info_int(info(conn, "memory"), "used_memory")
    if not used:
        raise RuntimeError("no used_memory in INFO")
    if conn.call("FLUSHALL", "SYNC") != "OK":
        raise RuntimeError("FLUSHALL SYNC failed")
    return used


def hits_run(binary, policy, cache_keys, warm, measure):
    proc, port, _ = start(binary)
    try:
        c = helper.Conn(port, timeout=60)
        limit = calibrate(c, cache_keys)
        config_set(c, "maxmemory", str(limit))
        config_set(c, "maxmemory-policy", policy)
        samples = c.call("CONFIG", "GET", "maxmemory-samples")
        t0 = time.monotonic()
        run_batches(c, warm)
        s0 = info(c, "stats")
        hits, misses = run_batches(c, measure)
        s1 = info(c, "stats")
        wall = time.monotonic() - t0
        if proc.poll() is not None:
            raise RuntimeError("%s exited during the hit-ratio run" % binary)
        d = lambda k: (info_int(s1, k) - info_int(s0, k)  # noqa: E731
                       if info_int(s1, k) is not None and info_int(s0, k) is not None else None)
        ih, im = d("keyspace_hits"), d("keyspace_misses")
        out = {
            "maxmemory": limit,
            "hits": hits, "misses": misses,
            "ratio": hits / (hits + misses),
            "info_ratio": ih / (ih + im) if ih is not None and im is not None and ih + im else None,
            "info_match": ih == hits and im == misses,
            "info_hits": ih, "info_misses": im,
            "dbsize": c.call("DBSIZE"),
            "evicted": info_int(s1, "evicted_keys"),
            "used": info_int(info(c, "memory"), "used_memory"),
            "samples": samples[1].decode() if isinstance(samples, list) and len(samples) == 2 else "?",
            "wall": wall,
        }
        c.close()
        return out
    finally:
        stop(proc)


def exact_lru(seq_batches, capacity):
    """Hit counts of an exact LRU cache of `capacity` keys under the same
    batching: every GET of a batch first (a hit refreshes the key), then the
    SETs of its misses. Returns the hits of each batch."""
    cache = collections.OrderedDict()
    per_batch = []
    for ranks in seq_batches:
        hit = 0
        missed = []
        for r in ranks:
            if r in cache:
                cache.move_to_end(r)
                hit += 1
            else:
                missed.append(r)
        for r in missed:
            cache[r] = True
            cache.move_to_end(r)
            if len(cache) > capacity:
                cache.popitem(last=False)
        per_batch.append(hit)
    return per_batch


def part_hits(servers, rounds, opts):
    names = list(servers)
    n, cache_keys = opts["keys"], opts["keys"] // CACHE_FRACTION
    total = opts["warmup"] + opts["ops"]
    log("drawing %s Zipf(%.2f) ranks over %s keys (seed %d)" % (
        "{:,}".format(total), opts["zipf"], "{:,}".format(n), opts["seed"]))
    seq = zipf_sequence(n, opts["zipf"], total, opts["seed"])
    batches = encoded_gets(seq)
    nwarm = opts["warmup"] // BATCH
    warm, measure = batches[:nwarm], batches[nwarm:]
    per_batch = exact_lru([b[1] for b in batches], cache_keys)
    measured = sum(len(b[1]) for b in measure)
    lru_ref = sum(per_batch[nwarm:]) / measured
    top_ref = sum(1 for b in measure for r in b[1] if r < cache_keys) / measured
    policies = [p for p in opts["policies"].split(",") if p]
    res = {}  # (policy, name) -> round -> dict
    for policy in policies:
        for r in range(rounds):
            order = names if r % 2 == 0 else names[::-1]
            for name in order:
                x = hits_run(servers[name], policy, cache_keys, warm, measure)
                res.setdefault((policy, name), {})[r + 1] = x
                log("%s round %d/%d %s: hit ratio %.4f (INFO %s), maxmemory %d, dbsize %s, evicted %s (%.1f s)" % (
                    policy, r + 1, rounds, name, x["ratio"],
                    "%.4f" % x["info_ratio"] if x["info_ratio"] is not None else "n/a",
                    x["maxmemory"], x["dbsize"], x["evicted"], x["wall"]))
    print("### Hit ratio of a Zipf read workload (cache-aside)")
    print()
    print("%s keys `zk:<rank>`, rank r drawn with weight 1/r^%.2f from a PRNG seeded %d (the same "
          "sequence for every server); batches of %d pipelined GETs, then a pipelined SET of a "
          "%d-byte value for each miss. %s GETs of warm-up, then the hit ratio over the next %s GETs. "
          "maxmemory is set for each server (and round) to its own used_memory with the %s most "
          "popular keys stored (1/%d of the keys), so both caches hold about the same number of keys "
          "whatever their per-key overhead; \"keys held\" is DBSIZE at the end. Medians of %d rounds "
          "(a fresh server each), min-max beside them: the servers' sampled LRU/LFU is random. "
          "\"INFO\" is keyspace_hits/(hits+misses) over the measured GETs, \"= client\" whether those "
          "counts equal the client's in every round. \"run s\" is the wall time of warm-up plus "
          "measurement: Redis's LRU clock ticks once a second (LRU_CLOCK_RESOLUTION 1000 ms), so keys "
          "touched within the same second look equally old to it and its LRU hit ratio depends on "
          "how long the run takes; a server with a finer clock can come closer to exact LRU."
          % ("{:,}".format(n), opts["zipf"], opts["seed"], BATCH, VALUE_SIZE, "{:,}".format(opts["warmup"]),
             "{:,}".format(measured), "{:,}".format(cache_keys), CACHE_FRACTION, rounds))
    print()
    header = ["policy", "server", "hit ratio", "min-max", "INFO hit ratio", "= client",
              "maxmemory KiB", "keys held", "evicted_keys", "maxmemory-samples", "run s"]
    rows = []
    for policy in policies:
        for name in names:
            d = res[(policy, name)]
            v = list(d.values())
            ratios = [x["ratio"] for x in v]
            med = lambda f: helper.median_or_none([f(x) for x in v])  # noqa: E731
            rows.append([
                policy, name,
                "%.4f" % med(lambda x: x["ratio"]),
                "%.4f-%.4f" % (min(ratios), max(ratios)),
                helper.fmt(med(lambda x: x["info_ratio"]), 4),
                "yes" if all(x["info_match"] for x in v) else "no",
                helper.fmt(med(lambda x: x["maxmemory"] / 1024), 0),
                helper.fmt(med(lambda x: x["dbsize"] if isinstance(x["dbsize"], int) else None), 0),
                helper.fmt(med(lambda x: x["evicted"]), 0),
                "/".join(sorted(set(x["samples"] for x in v))),
                helper.fmt(med(lambda x: x["wall"]), 1),
            ])
        for a, b in helper.ratio_columns(names):
            da, db = res[(policy, a)], res[(policy, b)]
            diffs = [da[r]["ratio"] - db[r]["ratio"] for r in da if r in db]
            rows.append([policy, "%s - %s" % (a, b), "%+.4f" % helper.median_or_none(diffs),
                         "%+.4f-%+.4f" % (min(diffs), max(diffs)), "", "", "", "", "", "", ""])
    rows.append(["reference", "exact LRU of %s keys" % "{:,}".format(cache_keys), "%.4f" % lru_ref,
                 "", "", "", "", "{:,}".format(cache_keys), "", "", ""])
    held = helper.median_or_none([x["dbsize"] for x in res[(policies[0], "redis")].values()
                                  if isinstance(x["dbsize"], int)]) if policies else None
    if held and abs(held - cache_keys) > cache_keys // 50:
        held = int(held)
        per_batch = exact_lru([b[1] for b in batches], held)
        rows.append(["reference", "exact LRU of %s keys (as many as redis held)" % "{:,}".format(held),
                     "%.4f" % (sum(per_batch[nwarm:]) / measured), "", "", "", "", "{:,}".format(held), "", "", ""])
    rows.append(["reference", "top %s keys (ideal LFU)" % "{:,}".format(cache_keys), "%.4f" % top_ref,
                 "", "", "", "", "{:,}".format(cache_keys), "", "", ""])
    helper.table(header, rows)
    notes = []
    for policy in policies:
        for name in names:
            v = res[(policy, name)].values()
            held = helper.median_or_none([x["dbsize"] for x in v if isinstance(x["dbsize"], int)])
            if held is not None and held > cache_keys * 1.2:
                notes.append("- %s under %s held %s keys, far more than the %s its maxmemory was sized "
                             "for: it did not evict (evicted_keys %s), so its hit ratio measures no eviction "
                             "policy" % (name, policy, "{:,}".format(int(held)), "{:,}".format(cache_keys),
                                         helper.fmt(helper.median_or_none([x["evicted"] for x in v]), 0)))
    if notes:
        print()
        print("\n".join(notes))


# ---------------------------------------------------------------------------
# 3. Every policy: what each one evicts
# ---------------------------------------------------------------------------

HOT = 1_000          # hot keys, half without a TTL, half with the longest TTL
HOT_TTL = 1_000_000
FLOOD_BATCH = 2_000  # cold SETs between two reads of every hot key
TTL_SAMPLE = 2_000   # cold keys of each kind looked up at the end
PLAIN_EVERY = 10     # every tenth cold key has no TTL: they fill a third of
                     # maxmemory, so volatile-* policies still have volatile
                     # keys to choose among


def cold_ttl(i):
    """The TTL of cold key i, None for every tenth key (no TTL); the others
    spread over 1,000..100,999 s."""
    return None if i % PLAIN_EVERY == 0 else 1_000 + (i * 7_919) % 100_000


def policy_batches(flood):
    """The hot keys, then the flood in batches, each followed by a GET of
    every hot key; all encoded once. Cold key i has the TTL cold_ttl(i)."""
    hot = b"".join(helper.encode([b"SET", b"hot:%04d" % h, VALUE] +
                                 ([b"EX", b"%d" % HOT_TTL] if h % 2 else [])) for h in range(HOT))
    gets = b"".join(helper.encode([b"GET", b"hot:%04d" % h]) for h in range(HOT))
    batches = []
    for b in range(0, flood, FLOOD_BATCH):
        data = b"".join(helper.encode([b"SET", b"cold:%07d" % i, VALUE] +
                                      ([b"EX", b"%d" % cold_ttl(i)] if cold_ttl(i) else []))
                        for i in range(b, min(flood, b + FLOOD_BATCH)))
        batches.append((data, min(flood, b + FLOOD_BATCH) - b))
    return hot, gets, batches


def cold_samples(flood):
    """About TTL_SAMPLE cold keys with a TTL and as many without, spread
    over the flood."""
    volatile = [i for i in range(flood) if cold_ttl(i)]
    plain = [i for i in range(flood) if not cold_ttl(i)]
    return (volatile[::max(1, len(volatile) // TTL_SAMPLE)],
            plain[::max(1, len(plain) // TTL_SAMPLE)])


def policy_run(binary, policy, maxmemory, hot, gets, batches, flood):
    proc, port, _ = start(binary)
    try:
        c = helper.Conn(port, timeout=60)
        config_set(c, "maxmemory", maxmemory)
        config_set(c, "maxmemory-policy", policy)
        limit = info_int(info(c, "memory"), "maxmemory")
        ok = oom = 0
        first_error = None

        def sets(data, count):
            nonlocal ok, oom, first_error
            c.sock.sendall(data)
            for _ in range(count):
                r = c.reply()
                if r == "OK":
                    ok += 1
                else:
                    oom += 1
                    if first_error is None:
                        first_error = r[1] if isinstance(r, tuple) else repr(r)

        sets(hot, HOT)
        hot_ok = ok
        ok = 0
        peak = 0
        t0 = time.monotonic()
        for data, count in batches:
            sets(data, count)
            c.sock.sendall(gets)
            for _ in range(HOT):
                r = c.reply()
                if isinstance(r, tuple):
                    raise RuntimeError("GET replied %s" % r[1])
            peak = max(peak, info_int(info(c, "memory"), "used_memory") or 0)
        wall = time.monotonic() - t0
        if proc.poll() is not None:
            raise RuntimeError("%s exited during the %s run" % (binary, policy))
        ks = info(c, "keyspace").get("db0", "")
        fields = dict(kv.split("=", 1) for kv in ks.split(",") if "=" in kv)
        dbsize = c.call("DBSIZE")
        expires = int(fields["expires"]) if fields.get("expires", "").isdigit() else None
        c.sock.sendall(b"".join(helper.encode([b"EXISTS", b"hot:%04d" % h]) for h in range(HOT)))
        hot_kept = sum(c.reply() for _ in range(HOT))
        volatile, plain = cold_samples(flood)
        c.sock.sendall(b"".join(helper.encode([b"EXISTS", b"cold:%07d" % i]) for i in volatile))
        kept_ttls = sorted(cold_ttl(i) for i in volatile if c.reply() == 1)
        c.sock.sendall(b"".join(helper.encode([b"EXISTS", b"cold:%07d" % i]) for i in plain))
        plain_kept = sum(c.reply() for _ in plain)
        out = {
            "ok": ok, "oom": oom, "hot_ok": hot_ok, "first_error": first_error,
            "evicted": info_int(info(c, "stats"), "evicted_keys"),
            "dbsize": dbsize, "expires": expires, "hot_kept": hot_kept,
            "volatile_kept": len(kept_ttls) / len(volatile),
            "plain_kept": plain_kept / len(plain),
            "median_ttl": kept_ttls[len(kept_ttls) // 2] if kept_ttls else None,
            "peak": peak, "limit": limit, "wall": wall,
        }
        c.close()
        return out
    finally:
        stop(proc)


def part_policies(servers, opts):
    names = list(servers)
    flood = opts["flood"]
    policies = [p for p in opts["every"].split(",") if p]
    hot, gets, batches = policy_batches(flood)
    written_ttls = sorted(cold_ttl(i) for i in range(flood) if cold_ttl(i))
    res = {}
    for k, policy in enumerate(policies):
        order = names if k % 2 == 0 else names[::-1]
        for name in order:
            x = policy_run(servers[name], policy, opts["flood-maxmemory"], hot, gets, batches, flood)
            res[(policy, name)] = x
            log("%s %s: %d SETs OK, %d refused, evicted %s, dbsize %s, hot kept %d (%.1f s)" % (
                policy, name, x["ok"], x["oom"], x["evicted"], x["dbsize"], x["hot_kept"], x["wall"]))
    print("### What each policy evicts")
    print()
    print("A fresh server per policy with `maxmemory %s`: %s hot keys (half without a TTL, half with "
          "EX %s) are set, then %s cold SETs of %d-byte values (one in %d without a TTL, the others "
          "with EX 1,000 to 100,999 s, spread evenly), pipelined %s at a time, each batch "
          "followed by a GET of every hot key; one run per server. Refused: SETs answered with an "
          "error (OOM under noeviction, or a volatile policy with no volatile key left). Kept: "
          "EXISTS at the end over the hot keys, and over a sample of %s cold keys of each kind. "
          "Median TTL left: the TTL given to the volatile cold keys of the sample that are still "
          "there (the written ones' median is %s s; volatile-ttl should keep the longest). Peak "
          "used_memory is INFO after every batch, over maxmemory. The "
          "hot keys kept under the LRU policies vary from run to run and are no better than random "
          "in Redis here: its LRU clock ticks once a second and a run lasts about one, so the hot "
          "keys look no more recent than the cold keys of the same second."
          % (opts["flood-maxmemory"], "{:,}".format(HOT), "{:,}".format(HOT_TTL), "{:,}".format(flood),
             VALUE_SIZE, PLAIN_EVERY, "{:,}".format(FLOOD_BATCH), "{:,}".format(len(cold_samples(flood)[0])),
             "{:,}".format(written_ttls[len(written_ttls) // 2])))
    print()
    header = ["policy", "server", "SETs OK", "refused", "evicted_keys", "dbsize", "with TTL",
              "hot kept", "cold kept, no TTL", "cold kept, TTL", "median TTL left s",
              "peak used / maxmemory"]
    rows = []
    for policy in policies:
        for name in names:
            x = res[(policy, name)]
            rows.append([policy, name, "{:,}".format(x["ok"]), "{:,}".format(x["oom"]),
                         helper.fmt(x["evicted"], 0), helper.fmt(x["dbsize"], 0) if isinstance(x["dbsize"], int) else "n/a",
                         helper.fmt(x["expires"], 0), "{:,}".format(x["hot_kept"]),
                         "%.1f%%" % (100 * x["plain_kept"]), "%.1f%%" % (100 * x["volatile_kept"]),
                         helper.fmt(x["median_ttl"], 0),
                         "%.3f" % (x["peak"] / x["limit"]) if x["limit"] else "n/a"])
    helper.table(header, rows)
    errors = sorted(set((name, x["first_error"]) for (p, name), x in res.items() if x["first_error"]))
    if errors:
        print()
        for name, e in errors:
            print("- %s refused with: `%s`" % (name, e))


# ---------------------------------------------------------------------------


def main():
    opts = dict(OPTIONS)
    args = []
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__)
        return
    for a in sys.argv[1:]:
        if a.startswith("--") and "=" in a:
            k, v = a[2:].split("=", 1)
            if k not in opts:
                sys.exit("evict.py: unknown option %r\n\n%s" % (a, __doc__))
            opts[k] = type(opts[k])(v) if not isinstance(opts[k], str) else v
        elif a.startswith("-"):
            sys.exit("evict.py: unknown option %r\n\n%s" % (a, __doc__))
        else:
            args.append(a)
    if len(args) < 2 or opts["only"] not in ("", "cache", "hits", "policies") or opts["keys"] < CACHE_FRACTION * 10 \
            or opts["ops"] < BATCH:
        sys.exit(__doc__)
    rounds = int(args[0])
    servers = {"ferrokv": args[1], "redis": args[2] if len(args) > 2 else "redis-server"}
    for name, binary in servers.items():
        if not shutil.which(binary):
            sys.exit("evict.py: %s binary %r not found" % (name, binary))
    hit_rounds = opts["hit-rounds"] or rounds
    parse_bytes(opts["maxmemory"])  # a bad size fails here, not mid-run

    def on_signal(signum, _frame):
        raise SystemExit(128 + signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    tmp = tempfile.mkdtemp(prefix="ferrokv-evict-report-")
    try:
        if os.path.realpath(shutil.which(servers["ferrokv"])) == os.path.realpath(shutil.which(servers["redis"])):
            print("Both columns run %s (a check of the kit itself): the ratios should be near 1 "
                  "and the hit ratios within the servers' sampling noise." % servers["redis"])
            print()
        if opts["only"] in ("", "cache"):
            part_cache(servers, rounds, opts, tmp)
        if opts["only"] in ("", "hits"):
            if opts["only"] == "":
                print()
            part_hits(servers, hit_rounds, opts)
        if opts["only"] in ("", "policies"):
            if opts["only"] == "":
                print()
            part_policies(servers, opts)
    finally:
        stop_all()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
