#!/usr/bin/env bash
# Compare ferrokv with redis-server 7.0 on this machine.
#
# Usage: scripts/bench.sh [--quick] [--rounds N] [--only SECTIONS] [--help]
#
#   --quick      a short run (about 2 minutes): 6 tests, 2 rounds, fewer
#                requests, 200k elements for memory, 20k keys per shape of
#                small aggregates, 1M keys for growth
#   --rounds N   rounds of the interleaved throughput and CPU runs
#                (default 3; 2 with --quick)
#   --only LIST  run only these of the sections throughput, cpu, smallcpu,
#                pubsub, bigvalue, memory, small, growth, persist, aof,
#                zset, stream, evict, evalsha, geo, bitmap, sort, hll,
#                latency (comma separated; latency runs only when named)
#   --help       print this text
#
# Environment:
#   BENCH_THIRD="/path/to/other-server --port {port}"   also measure a third
#                server, named "third" in the tables; {port} is replaced by
#                a free port and the server must listen on 127.0.0.1.
#   CARGO_TARGET_DIR   where cargo builds, as for cargo itself; ferrokv and
#                the fan-out driver are then run from there (default target/)
#   FERROKV_BIN=/path/or/name   run this binary as "ferrokv" instead of the
#                one cargo builds (no build then); FERROKV_BIN=redis-server
#                checks a section against Redis in both columns, where the
#                ratios should be near 1 (the pubsub section still needs the
#                fan-out driver, so it builds that)
#   EVICT_ARGS="--requests=5000000 ..."   extra options for
#                scripts/bench/evict.py (the evict section); see its --help
#
# It builds ferrokv in release, starts it and `redis-server --save ''
# --appendonly no` on free loopback ports, and prints markdown tables:
#   1. redis-benchmark throughput and p50/p99 latency for the default suite
#      plus XADD and SET EX, at -P 1 and -P 16 (-c 50, -r 100000). The
#      servers take turns (A B, then B A in the next round, ...) so drift on a
#      noisy machine cancels out; each figure is a median over rounds and each
#      ratio the median of the per-round ratios.
#   2. server CPU per request (utime+stime from /proc/PID/stat), also for
#      the hot commands of small aggregates (HGET, HSET, SISMEMBER, SADD,
#      LINDEX, LPUSH at -P 16 on 100,000 keys of 10 elements each), and
#      Pub/Sub fan-out (examples/fanout.rs): messages delivered per second
#      and server CPU per delivered message, 1,000, 100 and 1 subscribers;
#      big values: 1 MB SET/GET at -c 10, and one 200 MB SET, GET and DEL
#      (times, RSS after each, peak RSS), and the memory of 9,000 idle
#      connections,
#   3. memory per element (growth of VmRSS and of INFO used_memory on a fresh
#      server) for strings, lists, hashes, sets, sorted sets and streams, and
#      memory per key of small aggregates: 100,000 keys (20,000 with --quick)
#      each holding a hash of 10 or 100 fields, a list of 10 or 100 strings,
#      or a set of 10 or 100 integers or strings, with the OBJECT ENCODING
#      each server gives them,
#   4. PING latency seen by a steady client while another client grows the
#      keyspace from 0 to 8M keys (this is where table-resize stalls show),
#   5. BGSAVE and the AOF (scripts/bench/persist.py, aof.py), and server
#      CPU per ZADD, ZRANK and ZRANGEBYSCORE on one sorted set of 1k, 10k,
#      100k and 1M members (scripts/bench/zset.py),
#   6. streams (scripts/bench/stream.py): XADD throughput and server CPU per
#      XADD at -P 1 and -P 16 (redis-benchmark, a fresh server per run);
#      server CPU per XRANGE and XREVRANGE COUNT 10 from a random ID and per
#      XADD on one stream of 1k, 100k and 1M entries (1k and 100k with
#      --quick); memory per entry of those streams (one field, 8-byte value),
#   7. maxmemory and eviction (scripts/bench/evict.py): the cache workload
#      redis-benchmark -t set -r 10000000 -d 100 -n 1000000 (800,000 with
#      --quick, about the least that fills 100 MB) under maxmemory 100mb, allkeys-lru: throughput, server CPU
#      per SET, peak used_memory (INFO polled every 100 ms) against the
#      limit, peak RSS, evicted_keys, DBSIZE; and the hit ratio of a
#      cache-aside Zipf(1.0) read workload on 200,000 keys with room for a
#      tenth of them, under allkeys-lru and allkeys-lfu; and, for each of the
#      eight policies, what it evicts from a mix of hot keys, keys with and
#      without a TTL under maxmemory 12mb (SETs refused, keys of each kind
#      kept, median TTL left). About 2.5 minutes on an idle 2-CPU machine.
#   8. Lua scripting (scripts/bench/evalsha.py): rate limiters by EVALSHA
#      (a fixed window, INCR and PEXPIRE; a sliding window, a sorted-set log
#      with TIME, ZREMRANGEBYSCORE, ZCARD, ZADD), the fixed window by EVAL,
#      and INCR alone for scale, with redis-benchmark at -P 1 and -P 16 on
#      10,000 keys: throughput and server CPU per request, a fresh server
#      per run, every request checked in INFO commandstats.
#   9. geo (scripts/bench/geo.py): GEOSEARCH BYRADIUS and BYBOX, sorted,
#      with COUNT and with COUNT ANY, on one set of 1M seeded points
#      (100k with --quick), redis-benchmark -c 50: throughput and server
#      CPU per request.
#  10. bitmaps (scripts/bench/bitmap.py): BITCOUNT, BITPOS and BITOP on a
#      100 MB string, the median call's time, and SETBIT/GETBIT throughput
#      and server CPU per request at -P 16.
#  11. SORT (--only sort): server CPU per SORT of a 1,000-element list (with
#      LIMIT, ALPHA, BY nosort) and of a 1,000-member set BY weight keys
#      (with LIMIT, with GET), at -P 16.
#  12. HyperLogLog (scripts/bench/hll.py): PFADD on one key (dense) and on
#      10,000 sparse keys, PFCOUNT of one key (cached) and of two dense keys
#      (the union counted each time), PFMERGE of two dense keys, at -P 1 and
#      -P 16, a fresh server per run, every request checked in INFO
#      commandstats.
#  13. latency-tracking's cost (scripts/bench/latency_tracking.py, --only
#      latency): server CPU per SET and GET at -P 16 with the per-command
#      latency histograms on and off, both settings in turn on one server
#      of each kind, and the ratio on/off.
#  After sections 1 and 2, what each long-running server reports itself:
#  LATENCY HISTOGRAM set get and LATENCY DOCTOR (both servers run with
#  latency-monitor-threshold 1).
# A test whose command the server does not know is "n/a". Servers are killed
# on exit, also on Ctrl-C or failure; if one dies mid-run the script says
# which and exits 3. It only talks to 127.0.0.1. Run it from anywhere; it
# works on the repository it lives in. Progress goes to stderr, the report
# to stdout.

set -euo pipefail

usage() {
    sed -n '2,/^$/{s/^# \{0,1\}//;p}' "$0"
}

# ---------------------------------------------------------------------------
# Options and sizes
# ---------------------------------------------------------------------------

QUICK=0
ROUNDS=""
ONLY="throughput,cpu,smallcpu,pubsub,bigvalue,memory,small,growth,persist,aof,zset,stream,evict,evalsha,geo,bitmap,sort"
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) QUICK=1 ;;
        --rounds)
            [ $# -ge 2 ] || { echo "bench.sh: --rounds needs a number" >&2; exit 2; }
            ROUNDS="$2"
            shift
            ;;
        --rounds=*) ROUNDS="${1#--rounds=}" ;;
        --only)
            [ $# -ge 2 ] || { echo "bench.sh: --only needs a list of sections" >&2; exit 2; }
            ONLY="$2"
            shift
            ;;
        --only=*) ONLY="${1#--only=}" ;;
        -h | --help) usage; exit 0 ;;
        *) echo "bench.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

if [ "$QUICK" -eq 1 ]; then
    : "${ROUNDS:=2}"
    N_P1=20000          # requests per redis-benchmark run at -P 1
    N_P16=100000        # ... and at -P 16
    CPU_N_P1=100000     # requests per CPU measurement at -P 1
    CPU_N_P16=300000    # ... and at -P 16
    MEM_N=200000        # elements per memory measurement
    SMALL_N=20000       # keys per shape of small aggregates
    GROWTH_N=1000000    # keys loaded while the pinger runs
    PERSIST_N=500000    # keys saved by BGSAVE and loaded at start-up
    ONLY_TESTS=" PING_MBULK SET GET INCR MSET SET_EX "
else
    : "${ROUNDS:=3}"
    N_P1=100000
    N_P16=500000
    CPU_N_P1=200000
    CPU_N_P16=1000000
    MEM_N=1000000
    SMALL_N=100000
    GROWTH_N=8000000
    PERSIST_N=5000000
    ONLY_TESTS=""
fi
case "$ROUNDS" in
    '' | *[!0-9]* | 0) echo "bench.sh: --rounds wants a positive number, not '$ROUNDS'" >&2; exit 2 ;;
esac
for section in ${ONLY//,/ }; do
    case "$section" in
        throughput | cpu | smallcpu | pubsub | bigvalue | memory | small | growth | persist | aof | zset | stream | evict | evalsha | geo | bitmap | sort | hll | latency) ;;
        *) echo "bench.sh: unknown section '$section' (throughput, cpu, smallcpu, pubsub, bigvalue, memory, small, growth, persist, aof, zset, stream, evict, evalsha, geo, bitmap, sort, hll, latency)" >&2; exit 2 ;;
    esac
done
want() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

CLIENTS=50
KEYSPACE=100000     # redis-benchmark -r
PIPELINES=(1 16)

# The tests: redis-benchmark's default suite, then XADD and SET EX.
#   name | commands the server must know | what to load first | request
#   divisor at -P 1 | at -P 16 | redis-benchmark arguments
# "Load first": GET reads keys SET would have written, the pops need
# elements, LRANGE needs 600 of them ("n" = one per request). LRANGE runs as
# the command redis-benchmark sends (its -t form first pushes -n elements).
TESTS=(
    "PING_INLINE|PING|-|1|1|-t ping_inline"
    "PING_MBULK|PING|-|1|1|-t ping_mbulk"
    "SET|SET|-|1|1|-t set"
    "GET|GET SET|keys:$KEYSPACE|1|1|-t get"
    "INCR|INCR|-|1|1|-t incr"
    "LPUSH|LPUSH|-|1|1|-t lpush"
    "RPUSH|RPUSH|-|1|1|-t rpush"
    "LPOP|LPOP RPUSH|list:n|1|1|-t lpop"
    "RPOP|RPOP RPUSH|list:n|1|1|-t rpop"
    "SADD|SADD|-|1|1|-t sadd"
    "HSET|HSET|-|1|1|-t hset"
    "SPOP|SPOP SADD|set:n|1|1|-t spop"
    "ZADD|ZADD|-|1|1|-t zadd"
    "ZPOPMIN|ZPOPMIN ZADD|zset:n|1|1|-t zpopmin"
    "LRANGE_100|LRANGE RPUSH|list:600|2|10|LRANGE mylist 0 99"
    "LRANGE_300|LRANGE RPUSH|list:600|4|25|LRANGE mylist 0 299"
    "LRANGE_500|LRANGE RPUSH|list:600|6|40|LRANGE mylist 0 499"
    "LRANGE_600|LRANGE RPUSH|list:600|8|50|LRANGE mylist 0 599"
    "MSET|MSET|-|1|4|-t mset"
    "XADD|XADD|-|1|1|XADD s * f v"
    "SET_EX|SET|-|1|1|SET key:__rand_int__ v EX 100"
)

# Memory table: kind | command that builds it.
MEM_KINDS=("string|SET" "list|RPUSH" "hash|HSET" "set|SADD" "zset|ZADD" "stream|XADD")

# Small aggregates: kind (as helper.py names it) | command that builds it;
# each kind is measured with every size of SMALL_SIZES elements per key.
SMALL_KINDS=("hash|HSET" "list|RPUSH" "set-int|SADD" "set-str|SADD")
SMALL_SIZES=(10 100)

# Hot commands on small aggregates, each on $KEYSPACE keys of the 10-element
# shape of SMALL_KINDS: name | shape | redis-benchmark arguments. The writes
# keep the shapes small: HSET overwrites a field, SADD and LPUSH add about
# ten elements per key over a run.
SMALLCPU_RUNS=(
    "HGET|hash|HGET key:__rand_int__ field5"
    "HSET|hash|HSET key:__rand_int__ field5 val12345"
    "SISMEMBER int|set-int|SISMEMBER key:__rand_int__ 500000"
    "SADD int|set-int|SADD key:__rand_int__ 500000"
    "SISMEMBER str|set-str|SISMEMBER key:__rand_int__ m0123456789ab"
    "SADD str|set-str|SADD key:__rand_int__ m0123456789ab"
    "LINDEX|list|LINDEX key:__rand_int__ 5"
    "LPUSH|list|LPUSH key:__rand_int__ e0000000"
)

# ---------------------------------------------------------------------------
# Tools
# ---------------------------------------------------------------------------

cd "$(dirname "$0")/.."
ROOT="$PWD"
HELPER="$ROOT/scripts/bench/helper.py"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
FERROKV="$TARGET/release/ferrokv"
if [ -n "${FERROKV_BIN:-}" ]; then
    FERROKV="$(command -v "$FERROKV_BIN")" || { echo "bench.sh: FERROKV_BIN '$FERROKV_BIN' not found" >&2; exit 1; }
fi

log() { echo "bench [${SECONDS}s]: $*" >&2; }
die() { echo "bench.sh: $*" >&2; exit 1; }
py() { python3 "$HELPER" "$@"; }

need_redis=0
for tool in redis-server redis-benchmark redis-cli; do
    command -v "$tool" >/dev/null 2>&1 || need_redis=1
done
if [ "$need_redis" -eq 1 ]; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "installing redis-server and redis-tools with apt-get"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq redis-server redis-tools >&2
    else
        echo "bench.sh: redis-server/redis-benchmark not found; install them with: sudo apt-get install -y redis-server redis-tools" >&2
        exit 1
    fi
fi
for tool in python3 cargo timeout; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool not found on PATH"
done

# ---------------------------------------------------------------------------
# Servers
# ---------------------------------------------------------------------------

SERVERS=(ferrokv redis)
if [ -n "${BENCH_THIRD:-}" ]; then
    case "$BENCH_THIRD" in
        *'{port}'*) SERVERS+=(third) ;;
        *) die "BENCH_THIRD must contain {port}: '$BENCH_THIRD'" ;;
    esac
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/ferrokv-bench.XXXXXX")"
declare -A PID=() PORT=() MISSING=()
declare -A OWNED=()     # every process this script started and has not reaped
PINGER_PID=""
LOGS_SHOWN=0        # set once a failure has printed the server logs

# True while PID is a running process (a zombie counts as dead).
is_alive() {
    local line state
    [ -r "/proc/$1/stat" ] || return 1
    read -r line <"/proc/$1/stat" 2>/dev/null || return 1
    state="${line##*) }"
    state="${state%% *}"
    [ "$state" != Z ] && [ "$state" != X ]
}

# Stop one process this script started: TERM, up to 5 s, then KILL.
kill_pid() {
    local pid="$1" i
    if [ -n "${OWNED[$pid]:-}" ]; then
        if is_alive "$pid"; then
            kill -TERM "$pid" 2>/dev/null || true
            for i in $(seq 50); do
                is_alive "$pid" || break
                sleep 0.1
            done
            if is_alive "$pid"; then kill -KILL "$pid" 2>/dev/null || true; fi
        fi
        wait "$pid" 2>/dev/null || true
        unset "OWNED[$pid]"
    fi
}

cleanup() {
    local rc=$? pid name
    trap - EXIT INT TERM
    if [ "$rc" -ne 0 ] && [ "$LOGS_SHOWN" -eq 0 ]; then
        for name in "${SERVERS[@]}"; do
            if [ -s "$WORK/$name.log" ]; then
                echo "bench.sh: last lines of the $name log:" >&2
                tail -n 5 "$WORK/$name.log" >&2
            fi
        done
    fi
    for pid in "${!OWNED[@]}"; do kill_pid "$pid"; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "bench.sh: interrupted" >&2; exit 130' INT
trap 'echo "bench.sh: terminated" >&2; exit 143' TERM

# The command line that starts server $1 on port $2, in CMD.
server_cmd() {
    case "$1" in
        ferrokv) CMD=("$FERROKV" --port "$2" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning --latency-monitor-threshold 1) ;;
        redis) CMD=(redis-server --port "$2" --bind 127.0.0.1 --save "" --appendonly no --loglevel warning --latency-monitor-threshold 1) ;;
        third) CMD=(bash -c "exec ${BENCH_THIRD//\{port\}/$2}") ;;
    esac
}

# Start server $1 on a free port; another process may grab the port between
# the probe and the bind, so retry a few times.
start_server() {
    local name="$1" try port pid
    for try in 1 2 3 4 5; do
        port="$(py freeport)"
        server_cmd "$name" "$port"
        echo "--- start $name on port $port (try $try)" >>"$WORK/$name.log"
        "${CMD[@]}" </dev/null >>"$WORK/$name.log" 2>&1 &
        pid=$!
        OWNED[$pid]=1
        if py ready "$port" "$pid" 20 && is_alive "$pid"; then
            PID[$name]="$pid"
            PORT[$name]="$port"
            return 0
        fi
        kill_pid "$pid"
    done
    tail -n 5 "$WORK/$name.log" >&2 || true
    die "could not start $name"
}

stop_server() {
    kill_pid "${PID[$1]}"
    unset "PID[$1]" "PORT[$1]"
}

# Exit 3 naming the server if one of ours has died; $1 says during what.
check_servers() {
    local name
    for name in "${SERVERS[@]}"; do
        if [ -n "${PID[$name]:-}" ] && ! is_alive "${PID[$name]}"; then
            echo "bench.sh: server $name (pid ${PID[$name]}, port ${PORT[$name]}) died during $1; last lines of its log:" >&2
            tail -n 20 "$WORK/$name.log" >&2 || true
            LOGS_SHOWN=1
            exit 3
        fi
    done
}

# utime+stime of process $1 in clock ticks (fields 14 and 15 of
# /proc/PID/stat; the fields after the ")" that ends comm start at field 3).
cpu_ticks() {
    local line
    local -a f
    read -r line <"/proc/$1/stat"
    read -ra f <<<"${line##*) }"
    echo $((f[11] + f[12]))
}

rss_kb() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# The smallest VmRSS of process $1 over about a second: allocators hand freed
# buffers back to the OS with some delay, and the minimum is what the data
# itself holds.
settled_rss_kb() {
    local min="" v
    for _ in 1 2 3 4 5 6; do
        sleep 0.2
        v="$(rss_kb "$1")"
        if [ -z "$min" ] || [ "$v" -lt "$min" ]; then min="$v"; fi
    done
    echo "$min"
}

used_memory() {
    local v
    v="$(py info-field "$1" used_memory)"
    echo "${v:-na}"
}

# The servers in the order of round $1: forwards in odd rounds, backwards in
# even ones, so neither always runs first.
round_order() {
    local i
    ORDER=()
    if [ $(($1 % 2)) -eq 1 ]; then
        ORDER=("${SERVERS[@]}")
    else
        for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do ORDER+=("${SERVERS[$i]}"); done
    fi
}

# Which of the commands in $2 server $1 does not know, space separated
# (from the probe at start-up); empty when it knows them all.
missing_of() {
    local name="$1" cmd out=""
    for cmd in $2; do
        case " ${MISSING[$name]} " in *" $cmd "*) out="$out $cmd" ;; esac
    done
    echo "${out# }"
}

# FLUSHALL server $1, then load what a test reads: $2 is "-", "KIND:COUNT"
# or "KIND:n" (one element per request, $3 requests).
reset_server() {
    local port="${PORT[$1]}" kind count
    if [ "$2" = "-" ]; then
        py reset "$port"
    else
        kind="${2%%:*}"
        count="${2#*:}"
        [ "$count" = n ] && count="$3"
        py reset "$port" "$kind" "$count"
    fi
}

# Run redis-benchmark against server $1: pipeline $2, $3 requests, then the
# test's arguments. Sets RB_RPS RB_P50 RB_P99, or RB_NOTE when it failed.
run_rb() {
    local name="$1" pipeline="$2" n="$3" rc=0 row
    shift 3
    RB_RPS=na RB_P50=na RB_P99=na RB_NOTE="-"
    timeout 300 redis-benchmark -h 127.0.0.1 -p "${PORT[$name]}" -c "$CLIENTS" -n "$n" \
        -r "$KEYSPACE" -P "$pipeline" --csv "$@" >"$WORK/rb.out" 2>"$WORK/rb.err" || rc=$?
    check_servers "redis-benchmark $*"
    row="$(tail -n 1 "$WORK/rb.out")"
    if [ "$rc" -ne 0 ] || [ -z "$row" ] || [ "${row#\"test\"}" != "$row" ]; then
        RB_NOTE="redis-benchmark exit $rc: $(tr '\n\t' '  ' <"$WORK/rb.err" | cut -c1-100)"
        return 0
    fi
    # "test","rps","avg","min","p50","p95","p99","max"
    IFS=, read -r _ RB_RPS _ _ RB_P50 _ RB_P99 _ <<<"${row//\"/}"
}

# Load file $2 ($3 commands) into server $1 with redis-cli --pipe; fails
# unless every command got a reply and none was an error.
pipe_load() {
    local out
    out="$(timeout 600 redis-cli -h 127.0.0.1 -p "${PORT[$1]}" --pipe <"$2" 2>&1)" || {
        check_servers "redis-cli --pipe"
        log "redis-cli --pipe into $1 failed: $(echo "$out" | tail -n 1)"
        return 1
    }
    case "$out" in
        *"errors: 0, replies: $3"*) return 0 ;;
        *) log "redis-cli --pipe into $1: $(echo "$out" | tail -n 1)"; return 1 ;;
    esac
}

# ---------------------------------------------------------------------------
# 1. Throughput and latency (on the long-running servers)
# ---------------------------------------------------------------------------

section_throughput() {
    local out="$WORK/throughput.tsv" round spec test needs prefill div1 div16 argstr
    local pipeline n name missing progress
    local -a args
    : >"$out"
    for ((round = 1; round <= ROUNDS; round++)); do
        round_order "$round"
        for spec in "${TESTS[@]}"; do
            IFS='|' read -r test needs prefill div1 div16 argstr <<<"$spec"
            if [ -n "$ONLY_TESTS" ] && [ "${ONLY_TESTS/ $test /}" = "$ONLY_TESTS" ]; then continue; fi
            read -ra args <<<"$argstr"
            progress="round $round/$ROUNDS $test:"
            for pipeline in "${PIPELINES[@]}"; do
                if [ "$pipeline" -eq 1 ]; then n=$((N_P1 / div1)); else n=$((N_P16 / div16)); fi
                progress="$progress  P$pipeline"
                for name in "${ORDER[@]}"; do
                    missing="$(missing_of "$name" "$needs")"
                    if [ -n "$missing" ]; then
                        RB_RPS=na RB_P50=na RB_P99=na RB_NOTE="unknown command $missing"
                    else
                        reset_server "$name" "$prefill" "$n" || die "resetting $name before $test failed"
                        check_servers "FLUSHALL before $test"
                        run_rb "$name" "$pipeline" "$n" "${args[@]}"
                    fi
                    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$test" "$pipeline" \
                        "$RB_RPS" "$RB_P50" "$RB_P99" "$RB_NOTE" >>"$out"
                    progress="$progress $name=$RB_RPS"
                done
            done
            log "$progress"
        done
    done
    echo
    echo "## Throughput (redis-benchmark -c $CLIENTS -r $KEYSPACE, median of $ROUNDS rounds)"
    echo
    py report-throughput "$out" "${SERVERS[@]}"
}

# ---------------------------------------------------------------------------
# 2. Server CPU per request (on the long-running servers)
# ---------------------------------------------------------------------------

section_cpu() {
    local out="$WORK/cpu.tsv" hz round test pipeline n name ticks prefill t0 t1
    hz="$(getconf CLK_TCK)"
    : >"$out"
    for ((round = 1; round <= ROUNDS; round++)); do
        round_order "$round"
        for test in SET GET; do
            for pipeline in "${PIPELINES[@]}"; do
                if [ "$pipeline" -eq 1 ]; then n="$CPU_N_P1"; else n="$CPU_N_P16"; fi
                for name in "${ORDER[@]}"; do
                    ticks=na
                    if [ -z "$(missing_of "$name" "$test SET")" ]; then
                        if [ "$test" = GET ]; then prefill="keys:$KEYSPACE"; else prefill="-"; fi
                        reset_server "$name" "$prefill" "$n" || die "resetting $name failed"
                        t0="$(cpu_ticks "${PID[$name]}")"
                        run_rb "$name" "$pipeline" "$n" -t "${test,,}"
                        t1="$(cpu_ticks "${PID[$name]}")"
                        if [ "$RB_RPS" != na ]; then ticks=$((t1 - t0)); fi
                    fi
                    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$test" "$pipeline" "$n" "$ticks" "$hz" >>"$out"
                done
            done
        done
        log "CPU per request: round $round/$ROUNDS done"
    done
    echo
    echo "## Server CPU per request (utime+stime from /proc/PID/stat, CLK_TCK=$hz, -c $CLIENTS, median of $ROUNDS rounds)"
    echo
    py report-cpu "$out" "${SERVERS[@]}"
}

# Server CPU per request of the hot commands on small aggregates, where the
# packed encodings are walked linearly (as Redis walks its listpacks).
section_smallcpu() {
    local out="$WORK/smallcpu.tsv" hz round spec test shape argstr name ticks t0 t1
    local n="$CPU_N_P16"
    local -a args
    hz="$(getconf CLK_TCK)"
    : >"$out"
    for ((round = 1; round <= ROUNDS; round++)); do
        round_order "$round"
        for spec in "${SMALLCPU_RUNS[@]}"; do
            IFS='|' read -r test shape argstr <<<"$spec"
            read -ra args <<<"$argstr"
            for name in "${ORDER[@]}"; do
                reset_server "$name" "small-$shape-10:$KEYSPACE" "$n" || die "loading $shape keys into $name failed"
                t0="$(cpu_ticks "${PID[$name]}")"
                run_rb "$name" 16 "$n" "${args[@]}"
                t1="$(cpu_ticks "${PID[$name]}")"
                ticks=na
                if [ "$RB_RPS" != na ]; then ticks=$((t1 - t0)); fi
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$test" 16 "$n" "$ticks" "$hz" >>"$out"
            done
        done
        log "CPU per request on small aggregates: round $round/$ROUNDS done"
    done
    echo
    echo "## Server CPU per request on small aggregates ($KEYSPACE keys of 10 elements, the shapes of the small-aggregate memory table; -c $CLIENTS, median of $ROUNDS rounds)"
    echo
    py report-cpu "$out" "${SERVERS[@]}"
}

# ---------------------------------------------------------------------------
# 2b. Pub/Sub fan-out (on the long-running servers)
# ---------------------------------------------------------------------------

# Subscribers | messages: one publisher, every message to every subscriber.
PUBSUB_RUNS=("1000|5000" "100|20000" "1|200000")

section_pubsub() {
    local out="$WORK/pubsub.tsv" hz round spec subs msgs name t0 t1 line delivered seconds
    hz="$(getconf CLK_TCK)"
    : >"$out"
    log "building the fan-out driver (cargo build --release --example fanout)"
    cargo build --release --example fanout >&2
    for ((round = 1; round <= ROUNDS; round++)); do
        round_order "$round"
        for spec in "${PUBSUB_RUNS[@]}"; do
            subs="${spec%%|*}"
            msgs="${spec#*|}"
            [ "$QUICK" -eq 1 ] && msgs=$((msgs / 5))
            for name in "${ORDER[@]}"; do
                delivered=na seconds=na t0=0 t1=0
                if [ -z "$(missing_of "$name" "SUBSCRIBE PUBLISH")" ]; then
                    t0="$(cpu_ticks "${PID[$name]}")"
                    line="$("$TARGET/release/examples/fanout" --port "${PORT[$name]}" \
                        --subscribers "$subs" --messages "$msgs")" || die "fan-out against $name failed"
                    t1="$(cpu_ticks "${PID[$name]}")"
                    delivered="$(sed -n 's/.*delivered=\([0-9]*\).*/\1/p' <<<"$line")"
                    seconds="$(sed -n 's/.*seconds=\([0-9.]*\).*/\1/p' <<<"$line")"
                fi
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$subs" "$msgs" \
                    "$delivered" "$seconds" "$((t1 - t0))" "$hz" >>"$out"
            done
        done
        log "Pub/Sub fan-out: round $round/$ROUNDS done"
    done
    echo
    echo "## Pub/Sub fan-out (examples/fanout.rs: one publisher, 10-byte payloads, every message checked in order at every subscriber; server CPU utime+stime per delivered message, CLK_TCK=$hz, median of $ROUNDS rounds)"
    echo
    py report-pubsub "$out" "${SERVERS[@]}"
}

# ---------------------------------------------------------------------------
# 2c. Big values (a fresh server each round)
# ---------------------------------------------------------------------------

BIG_N=1000          # requests of 1 MB values per redis-benchmark run
BIG_MB=200          # the single huge SET/GET
IDLE_N=9000         # idle connections (both servers' maxclients is 10,000)

section_bigvalue() {
    local out="$WORK/big.tsv" huge="$WORK/huge.tsv" idle="$WORK/idle.tsv" hz round name test t0 t1 n="$BIG_N" line
    hz="$(getconf CLK_TCK)"
    [ "$QUICK" -eq 1 ] && n=$((BIG_N / 4))
    : >"$out"
    : >"$huge"
    : >"$idle"
    for ((round = 1; round <= ROUNDS; round++)); do
        round_order "$round"
        for name in "${ORDER[@]}"; do
            start_server "$name"
            for test in set get; do
                t0="$(cpu_ticks "${PID[$name]}")"
                RB_RPS=na
                timeout 300 redis-benchmark -h 127.0.0.1 -p "${PORT[$name]}" -c 10 -n "$n" \
                    -d 1048576 --csv -t "$test" >"$WORK/rb.out" 2>"$WORK/rb.err" || true
                t1="$(cpu_ticks "${PID[$name]}")"
                line="$(tail -n 1 "$WORK/rb.out")"
                IFS=, read -r _ RB_RPS _ <<<"${line//\"/}"
                printf '%s\t%s\t%s\t1\t%s\t%s\t%s\t%s\n' "$name" "$round" "${test^^}" "$n" \
                    "$((t1 - t0))" "$hz" "${RB_RPS:-na}" >>"$out"
            done
            check_servers "1 MB values"
            py reset "${PORT[$name]}"
            line="$(py bigvalue "${PORT[$name]}" "${PID[$name]}" "$BIG_MB")" \
                || die "the $BIG_MB MB SET/GET against $name failed"
            printf '%s\t%s\t%s\t%s\n' "$name" "$round" "$BIG_MB" "$line" >>"$huge"
            stop_server "$name"
            start_server "$name"
            line="$(py idle "${PORT[$name]}" "${PID[$name]}" "$IDLE_N")" \
                || die "the $IDLE_N idle connections to $name failed"
            printf '%s\t%s\t%s\t%s\n' "$name" "$round" "$IDLE_N" "$line" >>"$idle"
            stop_server "$name"
        done
        log "big values: round $round/$ROUNDS done"
    done
    echo
    echo "## Big values: 1 MB SET and GET (redis-benchmark -c 10 -d 1048576 -n $n, one key; fresh server; server CPU per request, CLK_TCK=$hz; median of $ROUNDS rounds)"
    echo
    awk -F'\t' '{ print $1 "\t" $2 "\t" $3 "\t" $4 "\t" $5 "\t" $6 "\t" $7 }' "$out" >"$WORK/big-cpu.tsv"
    py report-cpu "$WORK/big-cpu.tsv" "${SERVERS[@]}"
    echo
    awk -F'\t' '{ print $1 "\t" $2 "\t" $3 "\t" $8 }' "$out" >"$WORK/big-rps.tsv"
    py report-rps "$WORK/big-rps.tsv" "${SERVERS[@]}"
    echo
    echo "## Big values: one $BIG_MB MB SET, GET, then DEL (fresh server; VmRSS, peak is VmHWM; median of $ROUNDS rounds)"
    echo
    py report-bigvalue "$huge" "${SERVERS[@]}"
    echo
    echo "## Idle connections: $IDLE_N that PINGed once (fresh server; growth of VmRSS per connection, right after the PINGs and after 4 s idle; median of $ROUNDS rounds)"
    echo
    py report-idle "$idle" "${SERVERS[@]}"
}

# ---------------------------------------------------------------------------
# 3. Memory per element (a fresh server for each type)
# ---------------------------------------------------------------------------

section_memory() {
    local out="$WORK/memory.tsv" spec kind cmd file ncmds name rss0 rss1 used0 used1
    : >"$out"
    for spec in "${MEM_KINDS[@]}"; do
        kind="${spec%%|*}"
        cmd="${spec#*|}"
        file="$WORK/mem-$kind.resp"
        ncmds=""
        for name in "${SERVERS[@]}"; do
            if [ -n "$(missing_of "$name" "$cmd")" ]; then
                printf '%s\t%s\t%s\tna\tna\tna\tna\n' "$name" "$kind" "$MEM_N" >>"$out"
                continue
            fi
            [ -n "$ncmds" ] || ncmds="$(py gen "$kind" "$MEM_N" "$file")"
            start_server "$name"
            used0="$(used_memory "${PORT[$name]}")"
            rss0="$(settled_rss_kb "${PID[$name]}")"
            if pipe_load "$name" "$file" "$ncmds"; then
                check_servers "loading $kind"
                used1="$(used_memory "${PORT[$name]}")"
                rss1="$(settled_rss_kb "${PID[$name]}")"
            else
                rss1=na used1=na
            fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$kind" "$MEM_N" "$rss0" "$rss1" "$used0" "$used1" >>"$out"
            stop_server "$name"
        done
        rm -f "$file"
        log "memory: $kind done"
    done
    echo
    echo "## Memory per element (fresh server, $MEM_N elements)"
    echo
    echo "Strings: 16-byte keys, 8-byte values. Other types: one key; hash fields, set and sorted-set members 16 bytes; hash values and list elements 8 bytes; stream entries one field, 8-byte value. RSS (VmRSS) includes allocator slack; used_memory is the server's own count from INFO. n/a: the server does not implement the type."
    echo
    py report-memory "$out" "${SERVERS[@]}"
}

# ---------------------------------------------------------------------------
# 3b. Memory per key of small aggregates (fresh servers for each shape)
# ---------------------------------------------------------------------------

# Most keys in real data sets are small hashes, lists and sets, where the
# per-key overhead and the packed encodings (listpack, intset) decide the
# memory, not the per-element cost the table above measures.
section_small() {
    local out="$WORK/small.tsv" spec kind cmd elems name
    local -a fresh
    : >"$out"
    for spec in "${SMALL_KINDS[@]}"; do
        kind="${spec%%|*}"
        cmd="${spec#*|}"
        for elems in "${SMALL_SIZES[@]}"; do
            # All servers at once: helper.py encodes the data once and loads
            # it into each in turn, which halves the Python time.
            fresh=()
            for name in "${SERVERS[@]}"; do
                if [ -n "$(missing_of "$name" "$cmd")" ]; then
                    printf '%s\t%s\t%s\t%s\tna\tna\tna\tna\tn/a\n' "$name" "$kind" "$elems" "$SMALL_N" >>"$out"
                    continue
                fi
                start_server "$name"
                fresh+=("$name" "${PORT[$name]}" "${PID[$name]}")
            done
            if [ "${#fresh[@]}" -gt 0 ]; then
                py small "$kind" "$elems" "$SMALL_N" "${fresh[@]}" >>"$out" || {
                    check_servers "loading $elems-element $kind keys"
                    die "loading $elems-element $kind keys failed"
                }
            fi
            for name in "${SERVERS[@]}"; do
                if [ -n "${PID[$name]:-}" ]; then stop_server "$name"; fi
            done
            log "small aggregates: $kind of $elems done"
        done
    done
    echo
    echo "## Memory per key of small aggregates (fresh server per shape, $SMALL_N keys)"
    echo
    echo "16-byte keys. Hashes: fields field0..field99, 8-byte values. Lists: 8-byte strings. Sets: distinct random integers below 10^6, or distinct random non-numeric strings of 8 to 16 bytes. Growth of VmRSS (the lowest over 3 s after loading) and of INFO used_memory over the empty server, per key. The encoding is OBJECT ENCODING of one key; ferrokv answers with the name Redis 7.0 would give, so a packed string set shows as hashtable."
    echo
    py report-small "$out" "${SERVERS[@]}"
}

# ---------------------------------------------------------------------------
# 4. Latency while the keyspace grows (a fresh server each)
# ---------------------------------------------------------------------------

section_growth() {
    local out="$WORK/growth.tsv" file="$WORK/growth.resp" ready="$WORK/pinger.ready"
    local ncmds name start_ns end_ns loaded pinger_rc samples p99 p999 pmax load_s
    : >"$out"
    log "generating $GROWTH_N SET commands"
    ncmds="$(py gen growth "$GROWTH_N" "$file")"
    for name in "${SERVERS[@]}"; do
        [ -z "$(missing_of "$name" SET)" ] || continue
        start_server "$name"
        rm -f "$ready"
        # Not through py(): $! must be python itself, which SIGTERM stops.
        python3 "$HELPER" pinger "${PORT[$name]}" "$ready" 900 >"$WORK/pinger.out" &
        PINGER_PID=$!
        OWNED[$PINGER_PID]=1
        for _ in $(seq 100); do
            [ -e "$ready" ] && break
            sleep 0.1
        done
        [ -e "$ready" ] || die "the PING client did not start"
        sleep 0.5
        start_ns="$(date +%s%N)"
        loaded=1
        pipe_load "$name" "$file" "$ncmds" || loaded=0
        end_ns="$(date +%s%N)"
        sleep 0.2
        kill -TERM "$PINGER_PID" 2>/dev/null || true
        pinger_rc=0
        wait "$PINGER_PID" || pinger_rc=$?
        unset "OWNED[$PINGER_PID]"
        check_servers "growth to $GROWTH_N keys"
        [ "$pinger_rc" -eq 0 ] || die "the PING client against $name failed"
        [ "$loaded" -eq 1 ] || die "loading $GROWTH_N keys into $name failed"
        read -r samples p99 p999 pmax <"$WORK/pinger.out"
        load_s="$(awk -v a="$start_ns" -v b="$end_ns" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$GROWTH_N" "$samples" "$p99" "$p999" "$pmax" \
            "$load_s" "$(rss_kb "${PID[$name]}")" >>"$out"
        stop_server "$name"
        log "growth: $name done"
    done
    rm -f "$file"
    echo
    echo "## Latency under growth (0 to $GROWTH_N keys)"
    echo
    echo "One client sends PING, one at a time, while redis-cli --pipe loads $GROWTH_N \`SET key:<n> v\` with sequential n; the load shares the 2 cores with the server and the PING client."
    echo
    py report-growth "$out" "${SERVERS[@]}"
}

# ---------------------------------------------------------------------------
# Main: build, header, the sections
# ---------------------------------------------------------------------------

if [ -z "${FERROKV_BIN:-}" ]; then
    log "building ferrokv (cargo build --release)"
    cargo build --release >&2
fi

rev="$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
cpu_model="$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
mode="full"
[ "$QUICK" -eq 1 ] && mode="quick"

echo "# ferrokv vs redis-server"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- machine: $(nproc) CPUs, ${cpu_model:-unknown CPU}, Linux $(uname -r), $(awk '/^MemTotal:/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo), load average at start $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -n "${FERROKV_BIN:-}" ]; then
    echo "- ferrokv: FERROKV_BIN=$FERROKV_BIN ($FERROKV), not the cargo build; git $rev"
else
    echo "- ferrokv: git $rev, cargo build --release"
fi
echo "- redis: $(redis-server --version)"
echo "- redis-benchmark: $(redis-benchmark --version)"
if [ -n "${BENCH_THIRD:-}" ]; then echo "- third: \`$BENCH_THIRD\`"; fi
echo "- run: $mode, $ROUNDS rounds, -c $CLIENTS, -r $KEYSPACE; requests per run $N_P1 at -P 1 and $N_P16 at -P 16 (fewer for LRANGE, and for MSET at -P 16); clients and servers share the machine, all on 127.0.0.1"
echo "- ratios are ferrokv/redis (and third/redis): above 1 is better for ops/s and keys/s, below 1 is better for µs, bytes and ms"

# Start the long-running servers and ask each once for every command the
# tests and loaders use; the answers decide what is n/a everywhere.
for name in "${SERVERS[@]}"; do start_server "$name"; done
log "servers: $(for n in "${SERVERS[@]}"; do printf '%s pid %s port %s; ' "$n" "${PID[$n]}" "${PORT[$n]}"; done)"
all_cmds="$(for spec in "${TESTS[@]}" "${MEM_KINDS[@]}" "PUBSUB|SUBSCRIBE PUBLISH"; do
    IFS='|' read -r _ needs _ <<<"$spec"
    echo "$needs"
done | tr ' ' '\n' | sort -u | tr '\n' ' ')"
for name in "${SERVERS[@]}"; do
    # shellcheck disable=SC2086 # all_cmds is a list of words
    MISSING[$name]="$(py probe "${PORT[$name]}" $all_cmds | tr '\n' ' ')"
    MISSING[$name]="${MISSING[$name]% }"
    log "$name does not know: ${MISSING[$name]:-(it knows them all)}"
done

# 5. BGSAVE and start-up load (scripts/bench/persist.py): PERSIST_N small
# keys, BGSAVE while one client writes at full speed and another PINGs, the
# longest PING, the memory growth (PSS of the server and any fork), and the
# time to start on the file. Servers of its own, one after the other.
section_persist() {
    log "BGSAVE and load of $PERSIST_N keys"
    echo
    echo "## BGSAVE under writes, and start-up load ($PERSIST_N keys)"
    echo
    python3 "$ROOT/scripts/bench/persist.py" "$PERSIST_N" "$FERROKV" || die "the persistence benchmark failed"
}

# 6. The append-only file (scripts/bench/aof.py): SET at -P 1 and -P 16
# with appendfsync always, everysec and the AOF off, servers taking turns;
# then BGREWRITEAOF of PERSIST_N keys under writes, as for BGSAVE.
# 7. Sorted sets at 1k to 1M members (scripts/bench/zset.py): server CPU
# per ZADD, ZRANK and ZRANGEBYSCORE, which O(log N) keeps nearly flat.
section_zset() {
    local sizes="1000,10000,100000,1000000"
    [ "$QUICK" = 1 ] && sizes="1000,100000"
    log "sorted sets: CPU per command at $sizes members"
    echo
    echo "## Sorted sets by size"
    echo
    python3 "$ROOT/scripts/bench/zset.py" "$ROUNDS" "$FERROKV" --sizes="$sizes" || die "the sorted-set benchmark failed"
}

# 8. Streams (scripts/bench/stream.py): XADD throughput and server CPU per
# XADD with redis-benchmark at -P 1 and -P 16 (the throughput section's
# $N_P1 and $N_P16 requests, a fresh server per run); server CPU per
# XRANGE, XREVRANGE (COUNT 10 from a random ID) and XADD on one stream of
# 1k to 1M entries, flat as N grows tenfold if seeks are O(log N); memory
# per entry.
section_stream() {
    local sizes="1000,100000,1000000" commands=200000
    [ "$QUICK" = 1 ] && sizes="1000,100000" commands=100000
    log "streams: XADD at -P 1 and -P 16, CPU per command at $sizes entries, memory per entry"
    echo
    echo "## Streams"
    echo
    python3 "$ROOT/scripts/bench/stream.py" "$ROUNDS" "$FERROKV" --sizes="$sizes" \
        --xadd-n="$N_P1,$N_P16" --commands="$commands" || die "the stream benchmark failed"
}

# 9. maxmemory and eviction (scripts/bench/evict.py): the cache workload
# under maxmemory 100mb allkeys-lru (throughput, CPU per SET, peak
# used_memory against the limit, evicted_keys), the hit ratio of a Zipf
# cache-aside workload under allkeys-lru and allkeys-lfu, and what each of
# the eight policies evicts. EVICT_ARGS adds options (e.g.
# --requests=5000000, the issue's run, or --only=hits).
section_evict() {
    local requests=1000000
    # 800,000 SETs write ~770k distinct keys, ~1.5x what 100 MB holds in
    # Redis; 500,000 would not fill it and nothing would be evicted.
    [ "$QUICK" = 1 ] && requests=800000
    log "eviction: SET -n $requests under maxmemory 100mb, Zipf hit ratio under allkeys-lru and allkeys-lfu, every policy"
    echo
    echo "## maxmemory and eviction"
    echo
    # shellcheck disable=SC2086 # EVICT_ARGS is a list of options
    python3 "$ROOT/scripts/bench/evict.py" "$ROUNDS" "$FERROKV" --requests="$requests" ${EVICT_ARGS:-} \
        || die "the eviction benchmark failed"
}

# 10. Lua scripting (scripts/bench/evalsha.py): rate-limiter scripts by
# EVALSHA and EVAL against INCR alone, redis-benchmark at -P 1 and -P 16
# with the throughput section's $N_P1 and $N_P16 requests, a fresh server
# per run: what entering a script costs each server per request.
section_evalsha() {
    log "scripting: rate limiters by EVALSHA and EVAL, $N_P1 requests at -P 1 and $N_P16 at -P 16"
    echo
    echo "## Lua scripting: rate limiters"
    echo
    python3 "$ROOT/scripts/bench/evalsha.py" "$ROUNDS" "$FERROKV" --requests="$N_P1,$N_P16" \
        || die "the scripting benchmark failed"
}

# latency-tracking on and off (scripts/bench/latency_tracking.py): what the
# per-command histograms cost per SET and GET at -P 16.
section_latency() {
    log "latency-tracking: server CPU per SET and GET with it on and off"
    echo
    echo "## latency-tracking's cost"
    echo
    python3 "$ROOT/scripts/bench/latency_tracking.py" "$ROUNDS" "$FERROKV" \
        || die "the latency-tracking benchmark failed"
}

# 11. Geo (scripts/bench/geo.py): GEOSEARCH on one set of 1M points.
section_geo() {
    local points=1000000 requests=20000
    [ "$QUICK" = 1 ] && points=100000 requests=5000
    log "geo: GEOSEARCH on $points points, $requests requests per query"
    echo
    echo "## Geo search"
    echo
    python3 "$ROOT/scripts/bench/geo.py" "$ROUNDS" "$FERROKV" --points="$points" --requests="$requests" \
        || die "the geo benchmark failed"
}

# 12. Bitmaps (scripts/bench/bitmap.py): BITCOUNT, BITPOS and BITOP on a
# 100 MB string (10 MB with --quick), each call timed, and SETBIT/GETBIT
# throughput and server CPU per request, a fresh server per round.
section_bitmap() {
    local mb=100
    [ "$QUICK" = 1 ] && mb=10
    log "bitmaps: BITCOUNT, BITPOS, BITOP on $mb MB, SETBIT/GETBIT at -P 16"
    echo
    echo "## Bitmaps"
    echo
    python3 "$ROOT/scripts/bench/bitmap.py" "$ROUNDS" "$FERROKV" --mb="$mb" --requests="$N_P16" \
        || die "the bitmap benchmark failed"
}

# ---------------------------------------------------------------------------
# 13. SORT: server CPU per request on a 1,000-element list of numbers and a
# 1,000-member set sorted by weight keys (w_<member>), at -P 16.
# ---------------------------------------------------------------------------

SORT_RUNS=(
    "SORT list LIMIT 0 10|SORT sortlist LIMIT 0 10"
    "SORT list ALPHA LIMIT 0 10|SORT sortlist ALPHA LIMIT 0 10"
    "SORT list BY nosort LIMIT 500 10|SORT sortlist BY nosort LIMIT 500 10"
    "SORT set BY w_* LIMIT 0 10|SORT sortset BY w_* LIMIT 0 10"
    "SORT set BY w_* GET w_*|SORT sortset BY w_* GET w_*"
)

section_sort() {
    local out="$WORK/sort.tsv" load="$WORK/sort.load" hz round spec test argstr name ticks t0 t1 i
    local n=$((CPU_N_P16 / 50))
    local -a args
    hz="$(getconf CLK_TCK)"
    {
        printf 'RPUSH sortlist'
        for ((i = 0; i < 1000; i++)); do printf ' %d' $(((i * 7919) % 100003)); done
        printf '\nSADD sortset'
        for ((i = 0; i < 1000; i++)); do printf ' m%d' "$i"; done
        printf '\n'
        for ((i = 0; i < 1000; i++)); do printf 'SET w_m%d %d\n' "$i" $(((i * 104729) % 10007)); done
    } >"$load"
    : >"$out"
    for ((round = 1; round <= ROUNDS; round++)); do
        round_order "$round"
        for spec in "${SORT_RUNS[@]}"; do
            IFS='|' read -r test argstr <<<"$spec"
            read -ra args <<<"$argstr"
            for name in "${ORDER[@]}"; do
                ticks=na
                if [ -z "$(missing_of "$name" "SORT")" ]; then
                    reset_server "$name" - "$n" || die "resetting $name failed"
                    redis-cli -h 127.0.0.1 -p "${PORT[$name]}" <"$load" >/dev/null || die "loading $name failed"
                    t0="$(cpu_ticks "${PID[$name]}")"
                    run_rb "$name" 16 "$n" "${args[@]}"
                    t1="$(cpu_ticks "${PID[$name]}")"
                    if [ "$RB_RPS" != na ]; then ticks=$((t1 - t0)); fi
                fi
                printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$round" "$test" 16 "$n" "$ticks" "$hz" >>"$out"
            done
        done
        log "SORT: round $round/$ROUNDS done"
    done
    echo
    echo "## Server CPU per SORT (a 1,000-element list, a 1,000-member set with weight keys; -c $CLIENTS -P 16, median of $ROUNDS rounds)"
    echo
    py report-cpu "$out" "${SERVERS[@]}"
}

# 14. HyperLogLog (scripts/bench/hll.py): PFADD on one dense key and on
# many sparse ones, PFCOUNT cached and of two keys, PFMERGE; redis-benchmark
# at -P 1 and -P 16, a fresh server per run.
section_hll() {
    log "HyperLogLog: PFADD, PFCOUNT and PFMERGE, $N_P1 requests at -P 1 and $N_P16 at -P 16"
    echo
    echo "## HyperLogLog"
    echo
    python3 "$ROOT/scripts/bench/hll.py" "$ROUNDS" "$FERROKV" --requests="$N_P1,$N_P16" \
        || die "the HyperLogLog benchmark failed"
}

# ---------------------------------------------------------------------------
# What the long-running servers say of their own latency after sections 1
# and 2: the per-command histograms of SET and GET, and the latency
# monitor's analysis (latency-monitor-threshold is 1 ms on both servers).
# ---------------------------------------------------------------------------

section_self_report() {
    local name
    echo
    echo "## What the servers report: LATENCY HISTOGRAM set get, LATENCY DOCTOR"
    for name in "${SERVERS[@]}"; do
        echo
        echo "### $name"
        echo
        echo '```'
        redis-cli -p "${PORT[$name]}" LATENCY HISTOGRAM set get || true
        redis-cli -p "${PORT[$name]}" LATENCY DOCTOR || true
        echo '```'
    done
}

section_aof() {
    log "AOF: SET under appendfsync always/everysec, BGREWRITEAOF of $PERSIST_N keys"
    echo
    echo "## The append-only file"
    echo
    python3 "$ROOT/scripts/bench/aof.py" "$ROUNDS" "$PERSIST_N" "$FERROKV" || die "the AOF benchmark failed"
}

if want throughput; then section_throughput; fi
if want cpu; then section_cpu; fi
if want smallcpu; then section_smallcpu; fi
if want pubsub; then section_pubsub; fi
if want sort; then section_sort; fi
if want throughput || want cpu; then section_self_report; fi
for name in "${SERVERS[@]}"; do stop_server "$name"; done
if want bigvalue; then section_bigvalue; fi
if want memory; then section_memory; fi
if want small; then section_small; fi
if want persist; then section_persist; fi
if want aof; then section_aof; fi
if want zset; then section_zset; fi
if want stream; then section_stream; fi
if want evict; then section_evict; fi
if want evalsha; then section_evalsha; fi
if want geo; then section_geo; fi
if want bitmap; then section_bitmap; fi
if want hll; then section_hll; fi
if want latency; then section_latency; fi
if want growth; then section_growth; fi
log "done"
