#!/usr/bin/env bash
# Profiles ferrokv under a redis-benchmark load and writes an SVG flame graph.
#
# Usage: scripts/flamegraph.sh [-o OUT.svg] [-d SECONDS] [-F HZ] [-g fp|dwarf]
#                              [-- BENCH_ARGS...]
#
#   -o OUT.svg   where to write the flame graph (default target/flamegraph.svg);
#                the raw profile is kept beside it as OUT.perf.data, for
#                `perf report -i OUT.perf.data --no-children`
#   -d SECONDS   stop the load (and the recording) after this long (default 30)
#   -F HZ        sampling frequency (default 999)
#   -g MODE      how perf unwinds stacks: fp (default) walks frame pointers,
#                cheap but blind past libc functions built without them (the
#                send/recv wrappers: their samples lose every caller); dwarf
#                copies 8 KiB of stack per sample and unwinds those too, at
#                the cost of a much larger profile and a slower perf script
#   -- ARGS      redis-benchmark arguments replacing the default load,
#                `-t set,get -n 2000000 -r 100000 -P 16 -c 50 -q`; the script
#                adds -h and -p itself
#
# How: the server is built with `cargo build --profile profiling` (release
# plus line tables, not stripped) and frame pointers, in its own target dir
# (target/profiling-fp) so ordinary builds are not invalidated. It is started
# on a free loopback port, `perf record --call-graph fp` attaches to it for as
# long as redis-benchmark runs, and `perf script | inferno-collapse-perf |
# inferno-flamegraph` draws the graph. Frame pointers make perf's unwinding
# cheap and reliable; without them most Rust stacks would stop after a frame.
#
# Needs perf (Debian: linux-perf), redis-benchmark and redis-cli (redis-tools)
# and inferno (`cargo install inferno`). As root, missing ones are installed.
# Hardware counters are used when the machine has them; otherwise (VMs,
# containers) the software cpu-clock event samples instead.

set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out="$root/target/flamegraph.svg"
duration_s=30
freq_hz=999
call_graph=fp
# shellcheck disable=SC2054 # "set,get" is one argument.
bench_args=(-t set,get -n 2000000 -r 100000 -P 16 -c 50 -q)

usage() {
    sed -n '2,/^$/s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit "${1:-0}"
}

while [ $# -gt 0 ]; do
    case "$1" in
        -o) out=$2; shift 2 ;;
        -d) duration_s=$2; shift 2 ;;
        -F) freq_hz=$2; shift 2 ;;
        -g) call_graph=$2; shift 2 ;;
        -h|--help) usage 0 ;;
        --) shift; [ $# -gt 0 ] && bench_args=("$@"); break ;;
        *) echo "flamegraph.sh: unknown option $1" >&2; usage 2 >&2 ;;
    esac
done
case "$duration_s" in ''|*[!0-9]*) echo "flamegraph.sh: -d wants whole seconds" >&2; exit 2 ;; esac
case "$call_graph" in fp|dwarf) ;; *) echo "flamegraph.sh: -g wants fp or dwarf" >&2; exit 2 ;; esac
mkdir -p "$(dirname "$out")"
out=$(cd "$(dirname "$out")" && pwd)/$(basename "$out")
data="${out%.svg}.perf.data"

log() { echo "flamegraph.sh: $*" >&2; }
die() { log "$*"; exit 1; }

is_root() { [ "$(id -u)" -eq 0 ]; }

server_pid=""
perf_pid=""
bench_pid=""
old_paranoid=""
workdir=$(mktemp -d)

# stop PID: SIGTERM, then SIGKILL if it has not gone after five seconds.
stop() {
    local pid=$1 sig=${2:-TERM}
    kill -"$sig" "$pid" 2>/dev/null || return 0
    for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

cleanup() {
    [ -n "$bench_pid" ] && stop "$bench_pid"
    [ -n "$perf_pid" ] && stop "$perf_pid" INT
    [ -n "$server_pid" ] && stop "$server_pid"
    [ -n "$old_paranoid" ] && sysctl -qw kernel.perf_event_paranoid="$old_paranoid" 2>/dev/null
    rm -rf "$workdir"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Tools -------------------------------------------------------------------

export PATH="$PATH:${CARGO_HOME:-$HOME/.cargo}/bin"

# need COMMAND APT_PACKAGE: installs the package as root, otherwise says how.
missing=0
need_apt() {
    command -v "$1" >/dev/null && return 0
    if is_root && command -v apt-get >/dev/null; then
        log "installing $2 for $1"
        apt-get install -y -q "$2" >/dev/null 2>&1 ||
            { apt-get update -q >/dev/null && apt-get install -y -q "$2" >/dev/null; } || true
    fi
    command -v "$1" >/dev/null && return 0
    echo "missing $1: install it with 'sudo apt-get install $2'" >&2
    missing=1
}
need_apt perf linux-perf
need_apt redis-benchmark redis-tools
need_apt redis-cli redis-tools
if ! command -v inferno-flamegraph >/dev/null || ! command -v inferno-collapse-perf >/dev/null; then
    if command -v cargo >/dev/null; then
        log "installing inferno (cargo install inferno)"
        cargo install --locked inferno >&2 || true
    fi
    if ! command -v inferno-flamegraph >/dev/null; then
        echo "missing inferno-flamegraph: install it with 'cargo install inferno'" >&2
        missing=1
    fi
fi
[ "$missing" -eq 0 ] || exit 1
# On Debian /usr/bin/perf is a wrapper that fails when no perf matches the
# running kernel; any version works for user-space sampling.
perf --version >/dev/null 2>&1 || die "perf is installed but does not run: $(perf --version 2>&1 | head -n1)"

# --- Event and permissions ---------------------------------------------------

# `perf stat` exits 0 even when an event is "<not supported>", so read what
# it prints. Virtual machines often have no PMU; cpu-clock always exists.
event=cpu-clock
if perf stat -e cycles -- true 2>&1 | grep -Eq '^ *[0-9][0-9,.]* +cycles'; then
    event=cycles
fi

paranoid_file=/proc/sys/kernel/perf_event_paranoid
paranoid=$(cat "$paranoid_file" 2>/dev/null || echo 2)
if ! is_root && [ "$paranoid" -gt 1 ]; then
    # Above 1, unprivileged users may only sample user space, and above 2
    # (a Debian patch) not at all.
    [ "$paranoid" -gt 2 ] && die "kernel.perf_event_paranoid=$paranoid forbids profiling; run 'sudo sysctl kernel.perf_event_paranoid=-1' (or run this as root)"
    log "kernel.perf_event_paranoid=$paranoid: sampling user space only; 'sudo sysctl kernel.perf_event_paranoid=-1' adds kernel frames"
    event="$event:u"
fi
if ! perf stat -e "$event" -- true >/dev/null 2>&1; then
    if is_root && [ "$paranoid" -gt -1 ] && sysctl -qw kernel.perf_event_paranoid=-1 2>/dev/null; then
        old_paranoid=$paranoid
        log "lowered kernel.perf_event_paranoid from $paranoid to -1 for this run"
    fi
    perf stat -e "$event" -- true >/dev/null 2>&1 ||
        die "perf cannot open the $event event (perf_event_paranoid=$paranoid); try 'sudo sysctl kernel.perf_event_paranoid=-1'"
fi

# --- Build -------------------------------------------------------------------

target_dir="$root/target/profiling-fp"
log "building ferrokv (profile profiling, frame pointers) in $target_dir"
(cd "$root" && CARGO_TARGET_DIR="$target_dir" \
    RUSTFLAGS="${RUSTFLAGS:+$RUSTFLAGS }-C force-frame-pointers=yes" \
    cargo build --quiet --profile profiling --bin ferrokv)
bin="$target_dir/profiling/ferrokv"

# --- Run ---------------------------------------------------------------------


# A port nothing answers on; if the server still loses a race for it, the
# next try picks another.
port=""
for _ in 1 2 3 4 5; do
    try=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$try") 2>/dev/null && continue
    (cd "$workdir" && exec "$bin" --port "$try" --bind 127.0.0.1 --save "" \
        --appendonly no --loglevel warning >>server.log 2>&1) &
    server_pid=$!
    for _ in $(seq 100); do
        if [ "$(redis-cli -h 127.0.0.1 -p "$try" ping 2>/dev/null)" = PONG ]; then
            port=$try
            break
        fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$port" ] && break
    stop "$server_pid"
    server_pid=""
done
[ -n "$port" ] || die "ferrokv did not start on a loopback port: $(tail -n 5 "$workdir/server.log")"
log "ferrokv pid $server_pid on 127.0.0.1:$port; recording $event at $freq_hz Hz ($call_graph stacks) for at most ${duration_s}s"

# perf would rename an old profile to .old and leave it; the wait below
# also needs the file to be new.
rm -f "$data" "$data.old"
perf record -q -e "$event" -F "$freq_hz" -g --call-graph "$call_graph" \
    -p "$server_pid" -o "$data" 2>"$workdir/perf.err" &
perf_pid=$!
# perf has attached once it has written the file header.
for _ in $(seq 50); do [ -s "$data" ] && break; sleep 0.1; done
kill -0 "$perf_pid" 2>/dev/null || die "perf record failed: $(cat "$workdir/perf.err")"

log "redis-benchmark ${bench_args[*]}"
# In the background, so that a Ctrl-C reaches the traps at once rather than
# after the load ends (timeout puts the benchmark in its own process group,
# out of the terminal's reach).
timeout --signal=INT "$duration_s" \
    redis-benchmark -h 127.0.0.1 -p "$port" "${bench_args[@]}" &
bench_pid=$!
rc=0
wait "$bench_pid" || rc=$?
bench_pid=""
case "$rc" in
    0) ;;
    124) log "load stopped after ${duration_s}s" ;;
    *) die "redis-benchmark failed ($rc)" ;;
esac
stop "$perf_pid" INT
perf_pid=""
[ -s "$data" ] || die "perf wrote no samples: $(cat "$workdir/perf.err")"

# --- Draw --------------------------------------------------------------------

# Rust symbols are demangled by perf itself (--demangle, on by default where
# supported) and inferno copes with any that are left.
demangle=()
perf script -h 2>&1 | grep -q -- '--demangle ' && demangle=(--demangle)
perf script -i "$data" "${demangle[@]}" 2>/dev/null |
    inferno-collapse-perf |
    inferno-flamegraph --title "ferrokv: redis-benchmark ${bench_args[*]} ($event)" >"$out"

echo "Top functions by self time ($data):" >&2
perf report -i "$data" --no-children --stdio --sort symbol -g none 2>/dev/null |
    grep -E '^ +[0-9]' | sed -E 's/( +-){2} *$//' | head -n 10 >&2 || true
log "wrote $out"
