#!/usr/bin/env python3
"""Probes, loaders, the latency pinger and the report tables for scripts/bench.sh.

scripts/bench.sh drives the run: it builds ferrokv, starts the servers, runs
redis-benchmark and reads /proc. This file does the parts that bash does
badly: speaking RESP, generating bulk-load files, timing PINGs to the
microsecond, and the statistics. Only the Python 3 standard library is used,
so it runs on any machine that has python3.

Every subcommand talks to 127.0.0.1 only. Usage: helper.py SUBCOMMAND ARGS...

  freeport                     print a free TCP port on 127.0.0.1
  ready PORT PID SECONDS       wait until the server answers PING and (where
                               INFO reports one) its process_id is PID
  probe PORT NAME...           print the NAMEs the server does not know
                               ("-ERR unknown command"), one per line
  cmd PORT ARG...              send one command, print the reply
  info-field PORT FIELD        print one INFO field (empty when absent)
  reset PORT [KIND N]          FLUSHALL SYNC, then fill what a GET, pop or
                               LRANGE test reads (keys, list, set, zset)
  gen KIND N FILE              write a RESP file for `redis-cli --pipe`
  pinger PORT READYFILE MAXSEC send PING one at a time until SIGTERM; print
                               "samples p99_ms p999_ms max_ms"
  bigvalue PORT PID MB          one MB-sized SET, GET and DEL: times and RSS
  idle PORT PID N              open N connections that PING once and idle:
                               RSS per connection after the PING and after
                               idling
  small KIND ELEMS KEYS NAME PORT PID...
                               load KEYS keys of KIND (hash, list, set-int,
                               set-str) with ELEMS elements into each fresh
                               server; print used_memory and VmRSS before and
                               after, and one key's OBJECT ENCODING
  report-throughput TSV SERVER...
  report-cpu TSV SERVER...
  report-memory TSV SERVER...
  report-small TSV SERVER...
  report-growth TSV SERVER...  print a markdown table from bench.sh's TSV
"""

import os
import random
import signal
import socket
import statistics
import sys
import time

HOST = "127.0.0.1"


# ---------------------------------------------------------------------------
# A minimal RESP client
# ---------------------------------------------------------------------------


def encode(args):
    """One command as a RESP multibulk request."""
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if not isinstance(a, bytes):
            a = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    """A blocking connection with a read buffer and a one-reply parser."""

    def __init__(self, port, timeout=30.0):
        self.sock = socket.create_connection((HOST, int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.pos = 0

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("server closed the connection")
        self.buf = self.buf[self.pos:] + chunk
        self.pos = 0

    def _line(self):
        while True:
            end = self.buf.find(b"\r\n", self.pos)
            if end >= 0:
                line = self.buf[self.pos:end]
                self.pos = end + 2
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) - self.pos < n + 2:
            self._fill()
        data = self.buf[self.pos:self.pos + n]
        self.pos += n + 2
        return data

    def reply(self):
        """Read one reply. Errors come back as ("error", text), not raised."""
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode(errors="replace")
        if kind == b"-":
            return ("error", rest.decode(errors="replace"))
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise ValueError("unexpected reply type %r" % line[:40])

    def call(self, *args):
        self.sock.sendall(encode(args))
        return self.reply()

    def pipeline(self, commands, batch=2000):
        """Send commands in batches, reading every reply; return the first error."""
        chunks = (commands[start:start + batch] for start in range(0, len(commands), batch))
        return self.pipeline_encoded((b"".join(encode(c) for c in chunk), len(chunk))
                                     for chunk in chunks)

    def pipeline_encoded(self, batches):
        """pipeline() for batches encoded beforehand, as (bytes, number of
        commands) pairs, so one encoding can be sent to several servers."""
        first_error = None
        for data, count in batches:
            self.sock.sendall(data)
            for _ in range(count):
                r = self.reply()
                if first_error is None and isinstance(r, tuple):
                    first_error = r[1]
        return first_error

    def close(self):
        self.sock.close()


def is_error(r):
    return isinstance(r, tuple) and r[0] == "error"


# ---------------------------------------------------------------------------
# Small subcommands
# ---------------------------------------------------------------------------


def cmd_freeport():
    s = socket.socket()
    s.bind((HOST, 0))
    print(s.getsockname()[1])
    s.close()


def info_field(conn, field):
    r = conn.call("INFO")
    if not isinstance(r, bytes):
        return ""
    for line in r.decode(errors="replace").splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def cmd_ready(port, pid, seconds):
    """Poll until our server answers; a different process on the port is a failure."""
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        try:
            c = Conn(port, timeout=2.0)
            try:
                if c.call("PING") == "PONG":
                    seen = info_field(c, "process_id")
                    if seen and seen != str(pid):
                        print("port %s answers as pid %s, not %s" % (port, seen, pid),
                              file=sys.stderr)
                        return 1
                    return 0
            finally:
                c.close()
        except (OSError, ValueError, ConnectionError):
            pass
        time.sleep(0.05)
    return 1


def cmd_probe(port, names):
    """A bare command name with no arguments gets an arity error when the server
    knows the command and "unknown command" when it does not; either way
    nothing is written."""
    c = Conn(port)
    for name in names:
        r = c.call(name)
        if is_error(r) and r[1].startswith("ERR unknown command"):
            print(name)
    c.close()


def cmd_cmd(port, args):
    c = Conn(port)
    r = c.call(*args)
    c.close()
    if is_error(r):
        print("-" + r[1])
        return 1
    print(r.decode(errors="replace") if isinstance(r, bytes) else r)
    return 0


def cmd_info_field(port, field):
    c = Conn(port)
    print(info_field(c, field))
    c.close()


# The keys redis-benchmark 7.0 uses (no cluster tag): "key:__rand_int__" with a
# 12-digit number, "mylist", "myset", "myzset". A GET/pop test on an empty
# keyspace measures nil replies, so these fill what the test reads.
def cmd_reset(port, kind=None, n=0):
    c = Conn(port, timeout=120.0)
    r = c.call("FLUSHALL", "SYNC")
    if is_error(r):  # a server without the SYNC argument
        r = c.call("FLUSHALL")
    if is_error(r):
        print("FLUSHALL: %s" % r[1], file=sys.stderr)
        return 1
    if kind is None:
        c.close()
        return 0
    n = int(n)
    per = 1000
    if kind.startswith("small-"):  # small-SHAPE-ELEMS: section 3b's keys
        shape, elems = kind[len("small-"):].rsplit("-", 1)
        err = c.pipeline_encoded(small_batches(shape, int(elems), n))
        c.close()
        if err:
            print("prefill %s: %s" % (kind, err), file=sys.stderr)
            return 1
        return 0
    if kind == "keys":  # every key GET can draw with -r n
        cmds = [("SET", b"key:%012d" % i, b"xxx") for i in range(n)]
    elif kind == "list":
        cmds = [["RPUSH", "mylist"] + [b"xxx"] * min(per, n - i) for i in range(0, n, per)]
    elif kind == "set":
        cmds = [["SADD", "myset"] + [b"element:%012d" % j for j in range(i, min(i + per, n))]
                for i in range(0, n, per)]
    elif kind == "zset":
        cmds = []
        for i in range(0, n, per):
            zadd = ["ZADD", "myzset"]
            for j in range(i, min(i + per, n)):
                zadd += [b"%d" % j, b"element:%012d" % j]
            cmds.append(zadd)
    else:
        print("unknown prefill kind %r" % kind, file=sys.stderr)
        return 2
    err = c.pipeline(cmds, batch=10000 if kind == "keys" else 20)
    c.close()
    if err:
        print("prefill %s: %s" % (kind, err), file=sys.stderr)
        return 1
    return 0


# ---------------------------------------------------------------------------
# Bulk-load files for `redis-cli --pipe`
# ---------------------------------------------------------------------------

# Element shapes for the memory table: keys and members are 16 bytes, values
# and list elements 8 bytes, none of them integers (Redis stores integer
# strings specially, which would measure the encoding, not the structure).
GEN_KINDS = {
    # kind: (what one command adds, elements per command)
    "string": 1,
    "list": 1000,
    "hash": 1000,
    "set": 1000,
    "zset": 1000,
    "stream": 1,
    "growth": 1,
}


def gen_command(kind, i, j):
    """The command adding elements i..j-1 of KIND."""
    if kind == "string":
        return encode((b"SET", b"key:%012d" % i, b"v%07d" % (i % 10**7)))
    if kind == "growth":
        return encode((b"SET", b"key:%d" % i, b"v"))
    if kind == "stream":
        return encode((b"XADD", b"bigstream", b"*", b"f", b"v%07d" % (i % 10**7)))
    if kind == "list":
        return encode([b"RPUSH", b"biglist"] + [b"v%07d" % (k % 10**7) for k in range(i, j)])
    if kind == "hash":
        args = [b"HSET", b"bighash"]
        for k in range(i, j):
            args += [b"f:%014d" % k, b"v%07d" % (k % 10**7)]
        return encode(args)
    if kind == "set":
        return encode([b"SADD", b"bigset"] + [b"m:%014d" % k for k in range(i, j)])
    if kind == "zset":
        args = [b"ZADD", b"bigzset"]
        for k in range(i, j):
            args += [b"%d" % k, b"m:%014d" % k]
        return encode(args)
    raise ValueError(kind)


def cmd_gen(kind, n, path):
    n = int(n)
    per = GEN_KINDS[kind]
    with open(path, "wb") as f:
        out = []
        for i in range(0, n, per):
            out.append(gen_command(kind, i, min(i + per, n)))
            if len(out) >= 20000:
                f.write(b"".join(out))
                out = []
        f.write(b"".join(out))
    # The number of commands, which is what redis-cli --pipe counts as replies.
    print((n + per - 1) // per)


# ---------------------------------------------------------------------------
# Memory per key of small aggregates
# ---------------------------------------------------------------------------

# Keys are 16 bytes, as the strings of the memory table. Hash fields are
# field0..field99 with 8-byte values; list elements are 8 bytes; set members
# are integers below 10^6 (what Redis packs in an intset) or 8 to 16
# non-numeric bytes. No string is an integer, which Redis would store as a
# number and so measure the encoding of integers instead.
def small_command(kind, i, elems, rng):
    """The one command that builds key i of KIND with `elems` elements."""
    key = b"key:%012d" % i
    if kind == "hash":
        args = [b"HSET", key]
        for f in range(elems):
            args += [b"field%d" % f, b"val%05d" % ((i * elems + f) % 100000)]
        return args
    if kind == "list":
        return [b"RPUSH", key] + [b"e%07d" % ((i * elems + j) % 10**7) for j in range(elems)]
    if kind == "set-int":
        return [b"SADD", key] + [b"%d" % v for v in rng.sample(range(10**6), elems)]
    if kind == "set-str":
        return [b"SADD", key] + distinct_strings(rng, elems)
    raise ValueError(kind)


def distinct_strings(rng, n):
    """n distinct strings of 8 to 16 bytes, led by a letter so none parses
    as a number. Kept in the order drawn: a Python set's order changes from
    run to run with the hash seed."""
    seen = set()
    out = []
    while len(out) < n:
        s = (b"m%015x" % rng.getrandbits(60))[:rng.randint(8, 16)]
        if s not in seen:
            seen.add(s)
            out.append(s)
    return out


def small_batches(kind, elems, keys, batch_bytes=256 << 10):
    """Every key's command, encoded once for all servers (encoding is most of
    the Python time), in (bytes, count) batches of about `batch_bytes`: a
    server reads a batch without growing a large query buffer."""
    rng = random.Random("%s:%d" % (kind, elems))  # the same data every run
    batches, chunk, size = [], [], 0
    for i in range(keys):
        data = encode(small_command(kind, i, elems, rng))
        chunk.append(data)
        size += len(data)
        if size >= batch_bytes:
            batches.append((b"".join(chunk), len(chunk)))
            chunk, size = [], 0
    if chunk:
        batches.append((b"".join(chunk), len(chunk)))
    return batches


def wait_alone(conn, seconds=5.0):
    """Wait until `conn` is the server's only client, so that a closed
    loader's buffers are freed before memory is read. A server whose INFO
    has no connected_clients is not waited for."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        n = info_field(conn, "connected_clients")
        if not n.isdigit() or int(n) <= 1:
            return
        time.sleep(0.05)


def measure_small(port, pid, batches, keys):
    """Load the batches into a fresh server. Returns used_memory before and
    after, VmRSS (KB) before and after, and OBJECT ENCODING of key 0.
    The loader has its own connection, closed before the second reading,
    while the probe connection is open for both, so neither connection's
    buffers count."""
    probe = Conn(port)
    used0 = info_field(probe, "used_memory") or "na"
    rss0 = settle_rss_kb(pid, 2.0)
    loader = Conn(port, timeout=300.0)
    err = loader.pipeline_encoded(batches)
    loader.close()
    if err:
        raise RuntimeError("loading: %s" % err)
    dbsize = probe.call("DBSIZE")
    if dbsize != keys:
        raise RuntimeError("DBSIZE is %r after loading %d keys" % (dbsize, keys))
    wait_alone(probe)
    used1 = info_field(probe, "used_memory") or "na"
    rss1 = settle_rss_kb(pid, 8.0, at_least=3.0)
    enc = probe.call("OBJECT", "ENCODING", b"key:%012d" % 0)
    probe.close()
    enc = enc.decode(errors="replace") if isinstance(enc, bytes) else "n/a"
    return used0, used1, rss0, rss1, enc


def cmd_small(kind, elems, keys, servers):
    """`servers` is NAME PORT PID ..., each a fresh server; prints one TSV
    row per server: name kind elems keys used0 used1 rss0_kb rss1_kb encoding."""
    elems, keys = int(elems), int(keys)
    batches = small_batches(kind, elems, keys)
    for name, port, pid in zip(servers[0::3], servers[1::3], servers[2::3]):
        row = measure_small(port, pid, batches, keys)
        print("\t".join([name, kind, str(elems), str(keys)] + [str(v) for v in row]))
        sys.stdout.flush()


# ---------------------------------------------------------------------------
# The latency pinger
# ---------------------------------------------------------------------------


def percentile(sorted_values, q):
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, int(round(q * len(sorted_values) + 0.5)) - 1))
    return sorted_values[k]


def cmd_pinger(port, readyfile, maxsec):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    c = Conn(port, timeout=60.0)
    sock = c.sock
    ping = b"*1\r\n$4\r\nPING\r\n"
    pong = b"+PONG\r\n"
    clock = time.perf_counter_ns
    samples = []
    deadline = time.monotonic() + float(maxsec)
    with open(readyfile, "w") as f:
        f.write("ready\n")
    while not stop:
        t0 = clock()
        got = b""
        try:
            sock.sendall(ping)
            while len(got) < len(pong):
                chunk = sock.recv(64)
                if not chunk:
                    raise ConnectionError("the server closed the connection")
                got += chunk
        except OSError as e:
            print("pinger: %s after %d PINGs" % (e, len(samples)), file=sys.stderr)
            return 1
        samples.append(clock() - t0)
        if got != pong:
            print("pinger: unexpected reply %r" % got, file=sys.stderr)
            return 1
        if len(samples) & 1023 == 0 and time.monotonic() > deadline:
            break
    c.close()
    samples.sort()
    ms = 1e-6
    print("%d %.3f %.3f %.3f" % (len(samples), percentile(samples, 0.99) * ms,
                                 percentile(samples, 0.999) * ms, samples[-1] * ms))
    return 0


# ---------------------------------------------------------------------------
# Reports
# ---------------------------------------------------------------------------


def read_tsv(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line:
                rows.append(line.split("\t"))
    return rows


def num(s):
    try:
        return float(s)
    except ValueError:
        return None


def fmt(x, digits=2):
    if x is None:
        return "n/a"
    if abs(x) >= 1000:
        return "{:,.0f}".format(x)
    return "%.*f" % (digits, x)


def median_ratio(by_round_a, by_round_b):
    """The median over rounds of a's figure over b's, where both have one."""
    ratios = [by_round_a[r] / by_round_b[r] for r in by_round_a
              if r in by_round_b and by_round_a[r] and by_round_b[r]]
    return median_or_none(ratios)


def ratio_columns(servers):
    """ferrokv against redis, and a third server against redis where there is one."""
    return [(s, "redis") for s in servers if s != "redis"]


def median_or_none(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def column_medians(rounds):
    """The median of each column of per-round rows."""
    return [median_or_none(c) for c in zip(*rounds)]


def table(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "--:" for i in range(len(header))) + "|"]
    for r in rows:
        lines.append("| " + " | ".join(r) + " |")
    print("\n".join(lines))


def report_throughput(path, servers):
    # server round test pipeline rps p50 p99 note
    data = {}
    order = []
    notes = {}
    for server, rnd, test, pipe, rps, p50, p99, note in read_tsv(path):
        key = (test, pipe)
        if key not in order:
            order.append(key)
        data.setdefault(key, {}).setdefault(server, {})[rnd] = (num(rps), num(p50), num(p99))
        if note and note != "-":
            tests = notes.setdefault((server, note), [])
            if test not in tests:
                tests.append(test)
    pairs = ratio_columns(servers)
    header = ["test", "P"] + ["%s ops/s" % s for s in servers] + ["%s/%s" % p for p in pairs]
    header += ["%s p50 ms" % s for s in servers] + ["%s p99 ms" % s for s in servers]
    rows = []
    for key in order:
        per = data[key]
        row = [key[0], key[1]]
        for s in servers:
            row.append(fmt(median_or_none(v[0] for v in per.get(s, {}).values()), 0))
        for a, b in pairs:
            ra, rb = per.get(a, {}), per.get(b, {})
            ratios = [ra[r][0] / rb[r][0] for r in ra
                      if r in rb and ra[r][0] and rb[r][0]]
            row.append(fmt(median_or_none(ratios), 2))
        for col in (1, 2):
            for s in servers:
                row.append(fmt(median_or_none(v[col] for v in per.get(s, {}).values()), 3))
        rows.append(row)
    table(header, rows)
    # One line per server for the commands it lacks, one per other failure.
    unknown = {}
    other = []
    for (server, note), tests in notes.items():
        if note.startswith("unknown command "):
            cmds, n_a = unknown.setdefault(server, (set(), []))
            cmds.update(note[len("unknown command "):].split())
            n_a.extend(t for t in tests if t not in n_a)
        else:
            other.append("- n/a for %s in %s: %s" % (server, ", ".join(tests), note))
    if notes:
        print()
    for server in servers:
        if server in unknown:
            cmds, n_a = unknown[server]
            print("- n/a for %s, which does not know %s: %s"
                  % (server, " ".join(sorted(cmds)), ", ".join(n_a)))
    for line in other:
        print(line)


def report_cpu(path, servers):
    # server round test pipeline requests ticks clk_tck
    per = {}
    order = []
    for server, rnd, test, pipe, n, ticks, hz in read_tsv(path):
        key = (test, pipe)
        if key not in order:
            order.append(key)
        us = None
        if num(ticks) is not None:
            us = float(ticks) / float(hz) * 1e6 / float(n)
        per.setdefault(key, {}).setdefault(server, {})[rnd] = us
    pairs = ratio_columns(servers)
    header = ["test", "P", "requests"] + ["%s µs/req" % s for s in servers]
    header += ["%s/%s" % p for p in pairs]
    ns = {}
    for server, rnd, test, pipe, n, *_ in read_tsv(path):
        ns[(test, pipe)] = n
    rows = []
    for key in order:
        d = per[key]
        row = [key[0], key[1], "{:,}".format(int(ns[key]))]
        for s in servers:
            row.append(fmt(median_or_none(d.get(s, {}).values()), 2))
        for a, b in pairs:
            row.append(fmt(median_ratio(d.get(a, {}), d.get(b, {})), 2))
        rows.append(row)
    table(header, rows)


def report_pubsub(path, servers):
    # server round subscribers messages delivered seconds ticks clk_tck
    per = {}
    order = []
    for server, rnd, subs, msgs, delivered, secs, ticks, hz in read_tsv(path):
        key = (subs, msgs)
        if key not in order:
            order.append(key)
        rate = cpu = None
        if num(delivered) is not None and num(secs) is not None and float(secs) > 0:
            rate = float(delivered) / float(secs)
            if num(ticks) is not None:
                cpu = float(ticks) / float(hz) * 1e6 / float(delivered)
        per.setdefault(key, {}).setdefault(server, {})[rnd] = (rate, cpu)
    pairs = ratio_columns(servers)
    header = ["subscribers", "messages"]
    header += ["%s msg/s" % s for s in servers] + ["%s µs CPU/msg" % s for s in servers]
    header += ["%s/%s msg/s" % p for p in pairs] + ["%s/%s CPU" % p for p in pairs]
    rows = []
    for key in order:
        d = per[key]
        row = ["{:,}".format(int(key[0])), "{:,}".format(int(key[1]))]
        for i, digits in ((0, 0), (1, 3)):
            for s in servers:
                vals = [v[i] for v in d.get(s, {}).values() if v[i] is not None]
                row.append(fmt(median_or_none(vals), digits))
        for i in (0, 1):
            for a, b in pairs:
                da, db = d.get(a, {}), d.get(b, {})
                ratios = [da[r][i] / db[r][i] for r in da
                          if r in db and da[r][i] and db[r][i]]
                row.append(fmt(median_or_none(ratios), 2))
        rows.append(row)
    table(header, rows)


def growth_per(before, after, unit, count):
    """(after - before) * unit / count, or None when a reading is missing."""
    if num(before) is None or num(after) is None:
        return None
    return (float(after) - float(before)) * unit / float(count)


def growth_columns(per_server, servers, pairs):
    """The RSS and then the used_memory columns of a memory table: each
    server's figure, then the ratios of each pair."""
    cells = []
    for col in (0, 1):
        for s in servers:
            cells.append(fmt(per_server.get(s, (None, None))[col], 1))
        for a, b in pairs:
            va = per_server.get(a, (None, None))[col]
            vb = per_server.get(b, (None, None))[col]
            cells.append(fmt(va / vb if va and vb else None, 2))
    return cells


def report_memory(path, servers):
    # server kind elements rss_before_kb rss_after_kb used_before used_after
    per = {}
    order = []
    for server, kind, n, rss0, rss1, used0, used1 in read_tsv(path):
        if kind not in order:
            order.append(kind)
        rss = growth_per(rss0, rss1, 1024, n)
        used = growth_per(used0, used1, 1, n)
        per.setdefault(kind, {})[server] = (rss, used, n)
    pairs = ratio_columns(servers)
    header = ["type", "elements"] + ["%s RSS B/elem" % s for s in servers]
    header += ["%s/%s" % p for p in pairs]
    header += ["%s used_memory B/elem" % s for s in servers] + ["%s/%s" % p for p in pairs]
    rows = []
    for kind in order:
        d = per[kind]
        n = next(iter(d.values()))[2]
        row = [kind, "{:,}".format(int(n))]
        row += growth_columns(d, servers, pairs)
        rows.append(row)
    table(header, rows)


SMALL_LABELS = {"hash": "hash of %s fields", "list": "list of %s strings",
                "set-int": "set of %s integers", "set-str": "set of %s strings"}


def report_small(path, servers):
    # server kind elements keys used_before used_after rss_before_kb rss_after_kb encoding
    per = {}
    order = []
    for server, kind, elems, keys, used0, used1, rss0, rss1, enc in read_tsv(path):
        shape = (kind, elems, keys)
        if shape not in order:
            order.append(shape)
        per.setdefault(shape, {})[server] = (growth_per(rss0, rss1, 1024, keys),
                                             growth_per(used0, used1, 1, keys), enc)
    pairs = ratio_columns(servers)
    header = ["shape", "keys"] + ["%s RSS B/key" % s for s in servers]
    header += ["%s/%s" % p for p in pairs]
    header += ["%s used_memory B/key" % s for s in servers] + ["%s/%s" % p for p in pairs]
    header += ["%s encoding" % s for s in servers]
    rows = []
    for shape in order:
        d = per[shape]
        row = [SMALL_LABELS[shape[0]] % shape[1], "{:,}".format(int(shape[2]))]
        row += growth_columns(d, servers, pairs)
        row += [d.get(s, (None, None, "n/a"))[2] for s in servers]
        rows.append(row)
    table(header, rows)


def report_growth(path, servers):
    # server keys samples p99 p999 max load_s rss_kb
    per = {}
    for server, keys, samples, p99, p999, mx, load_s, rss in read_tsv(path):
        per[server] = (keys, int(samples), float(p99), float(p999), float(mx),
                       float(load_s), float(rss))
    header = ["server", "keys", "PING samples", "p99 ms", "p99.9 ms", "max ms",
              "load s", "keys/s", "RSS MB at end"]
    rows = []
    for s in servers:
        if s not in per:
            continue
        keys, samples, p99, p999, mx, load_s, rss = per[s]
        rows.append([s, "{:,}".format(int(keys)), "{:,}".format(samples), fmt(p99, 3),
                     fmt(p999, 3), fmt(mx, 3), fmt(load_s, 2),
                     fmt(int(keys) / load_s if load_s else None, 0), fmt(rss / 1024, 0)])
    for a, b in ratio_columns(servers):
        if a in per and b in per:
            pa, pb = per[a], per[b]
            rows.append(["%s/%s" % (a, b), "", "", fmt(pa[2] / pb[2], 2), fmt(pa[3] / pb[3], 2),
                         fmt(pa[4] / pb[4], 2), fmt(pa[5] / pb[5], 2),
                         fmt(pb[5] / pa[5], 2), fmt(pa[6] / pb[6], 2)])
    table(header, rows)


# ---------------------------------------------------------------------------


def proc_status_kb(pid, field):
    with open("/proc/%s/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def settle_rss_kb(pid, seconds=10.0, at_least=0.0):
    """VmRSS once it stops falling (the lazy-free thread may still be at
    work after a DEL), or after `seconds`; with `at_least`, the lowest over
    at least that long (allocators give freed memory back after a delay:
    jemalloc's background purge, ferrokv after a second without
    commands)."""
    last = lowest = proc_status_kb(pid, "VmRSS")
    start = time.time()
    while time.time() < start + seconds:
        time.sleep(0.2)
        now = proc_status_kb(pid, "VmRSS")
        lowest = min(lowest, now)
        if now >= last - 256 and time.time() >= start + at_least:
            return lowest
        last = now
    return lowest


def read_line(sock):
    """One reply line, read a byte at a time so nothing after it is taken."""
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1)
        if not chunk:
            raise ConnectionError("server closed the connection")
        data += chunk
    return data


def cmd_bigvalue(port, pid, mb):
    """One SET, then one GET, then DEL of an `mb` MB value on a fresh server:
    prints seconds for SET and GET, VmRSS (KB) at the start and after each,
    and the peak (VmHWM)."""
    size = int(mb) << 20
    payload = bytes(range(256)) * (size // 256)
    sock = socket.create_connection((HOST, int(port)), timeout=120)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    rss0 = settle_rss_kb(pid, 1.0)
    t0 = time.time()
    sock.sendall(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$%d\r\n" % size)
    sock.sendall(payload)
    sock.sendall(b"\r\n")
    if read_line(sock) != b"+OK\r\n":
        raise RuntimeError("SET failed")
    set_s = time.time() - t0
    rss_set = settle_rss_kb(pid, 2.0)
    t0 = time.time()
    sock.sendall(b"*2\r\n$3\r\nGET\r\n$3\r\nbig\r\n")
    header = read_line(sock)
    if header != b"$%d\r\n" % size:
        raise RuntimeError("GET answered %r" % header[:40])
    buf = bytearray(size + 2)
    view = memoryview(buf)
    got = 0
    while got < size + 2:
        n = sock.recv_into(view[got:])
        if n == 0:
            raise ConnectionError("server closed the connection")
        got += n
    get_s = time.time() - t0
    if bytes(buf[:size]) != payload:
        raise RuntimeError("GET returned other bytes")
    rss_get = settle_rss_kb(pid, 2.0)
    sock.sendall(b"*2\r\n$3\r\nDEL\r\n$3\r\nbig\r\n")
    if read_line(sock) != b":1\r\n":
        raise RuntimeError("DEL failed")
    rss_del = settle_rss_kb(pid, 10.0)
    peak = proc_status_kb(pid, "VmHWM")
    sock.close()
    print("%.3f\t%.3f\t%d\t%d\t%d\t%d\t%d" % (set_s, get_s, rss0, rss_set, rss_get, rss_del, peak))


def cmd_idle(port, pid, n):
    """Opens `n` connections, each sends PING and reads PONG (so the server
    has read from and written to every one), then they idle. Prints the
    growth of VmRSS per connection in bytes right after the PINGs and after
    idling past the server's 2-second idle-buffer check."""
    import resource
    n = int(n)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n + 64, hard), hard))
    rss0 = settle_rss_kb(pid, 1.0)
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection((HOST, int(port)), timeout=30)
            socks.append(s)
        for s in socks:
            s.sendall(b"PING\r\n")
        for s in socks:
            data = read_line(s)
            if data != b"+PONG\r\n":
                raise RuntimeError("PING answered %r" % data[:40])
        rss_busy = settle_rss_kb(pid, 2.0)
        time.sleep(4.0)
        rss_idle = settle_rss_kb(pid, 2.0)
    finally:
        for s in socks:
            s.close()
    print("%.0f\t%.0f" % ((rss_busy - rss0) * 1024.0 / n, (rss_idle - rss0) * 1024.0 / n))


def report_idle(path, servers):
    # server round n bytes_after_ping bytes_idle
    per = {}
    count = None
    for server, rnd, n, busy, idle in read_tsv(path):
        per.setdefault(server, []).append((float(busy), float(idle)))
        count = n
    header = ["server", "connections", "RSS B/conn after PING", "RSS B/conn idle"]
    rows = []
    med = {}
    for s in servers:
        if s not in per:
            continue
        med[s] = column_medians(per[s])
        rows.append([s, "{:,}".format(int(count)), fmt(med[s][0], 0), fmt(med[s][1], 0)])
    for a, b in ratio_columns(servers):
        if a in med and b in med:
            rows.append(["%s/%s" % (a, b), "", fmt(med[a][0] / med[b][0], 2),
                         fmt(med[a][1] / med[b][1], 2)])
    table(header, rows)


def report_rps(path, servers):
    # server round test requests_per_second
    per = {}
    order = []
    for server, rnd, test, rps in read_tsv(path):
        if test not in order:
            order.append(test)
        per.setdefault(test, {}).setdefault(server, {})[rnd] = num(rps)
    pairs = ratio_columns(servers)
    header = ["test"] + ["%s req/s" % s for s in servers] + ["%s/%s" % p for p in pairs]
    rows = []
    for test in order:
        d = per[test]
        row = [test]
        for s in servers:
            row.append(fmt(median_or_none([v for v in d.get(s, {}).values() if v]), 0))
        for a, b in pairs:
            row.append(fmt(median_ratio(d.get(a, {}), d.get(b, {})), 2))
        rows.append(row)
    table(header, rows)


def report_bigvalue(path, servers):
    # server round mb set_s get_s rss0 rss_set rss_get rss_del peak
    per = {}
    for server, rnd, mb, set_s, get_s, rss0, rss_set, rss_get, rss_del, peak in read_tsv(path):
        per.setdefault(server, []).append(
            [float(set_s), float(get_s), int(rss0), int(rss_set), int(rss_get),
             int(rss_del), int(peak)])
    header = ["server", "SET s", "GET s", "RSS start MB", "after SET MB", "after GET MB",
              "after DEL MB", "peak MB"]
    rows = []
    for s in servers:
        if s not in per:
            continue
        med = column_medians(per[s])
        rows.append([s, fmt(med[0], 3), fmt(med[1], 3)] +
                    [fmt(m / 1024.0, 1) for m in med[2:]])
    table(header, rows)


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0
    sub, args = argv[1], argv[2:]
    if sub == "freeport":
        cmd_freeport()
        return 0
    if sub == "ready":
        return cmd_ready(*args)
    if sub == "probe":
        cmd_probe(args[0], args[1:])
        return 0
    if sub == "cmd":
        return cmd_cmd(args[0], args[1:])
    if sub == "info-field":
        cmd_info_field(*args)
        return 0
    if sub == "reset":
        return cmd_reset(*args)
    if sub == "gen":
        cmd_gen(*args)
        return 0
    if sub == "pinger":
        return cmd_pinger(*args)
    if sub == "bigvalue":
        cmd_bigvalue(*args)
        return 0
    if sub == "idle":
        cmd_idle(*args)
        return 0
    if sub == "small":
        cmd_small(args[0], args[1], args[2], args[3:])
        return 0
    reports = {"report-throughput": report_throughput, "report-cpu": report_cpu,
               "report-memory": report_memory, "report-growth": report_growth,
               "report-pubsub": report_pubsub, "report-bigvalue": report_bigvalue,
               "report-rps": report_rps, "report-idle": report_idle,
               "report-small": report_small}
    if sub in reports:
        reports[sub](args[0], args[1:])
        return 0
    print("helper.py: unknown subcommand %r" % sub, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except BrokenPipeError:
        os._exit(1)
