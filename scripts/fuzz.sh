#!/usr/bin/env bash
# Runs ferrokv's fuzzers for as long as wanted.
#
#   scripts/fuzz.sh                          # the differential fuzzer, 60 s, seed 1
#   scripts/fuzz.sh --seconds 600 --seed 7   # ten minutes from seed 7
#   scripts/fuzz.sh --target parser --seconds 120
#   scripts/fuzz.sh --survey --seconds 300   # report each kind of difference once, go on
#   scripts/fuzz.sh --jobs 2 --seconds 600   # two runs side by side, seeds S and S+1
#
# Targets:
#   differential  random command sequences against ferrokv and a real
#                 redis-server, every reply and the whole dataset compared,
#                 the dataset again after ferrokv replays its AOF
#                 (tests/fuzz.rs); needs redis-server on PATH
#   parser        the RESP request parser against a reference parser, under
#                 every chunking, with allocation and panic checks
#                 (tests/parser_fuzz.rs)
#   aof-commands  the AOF's command reader: offsets, round trips, every cut
#                 of a sound file (tests/parser_fuzz/aof_command_target.rs)
#   aof-manifest  the AOF manifest parser: parse, render, parse again
#                 (tests/parser_fuzz/manifest_target.rs)
#
# A run is reproducible from its seed. The differential fuzzer stops at the
# first difference and prints it shrunk, as a tests/diff script; with
# --survey it prints each kind of difference once and keeps going. Both
# print their rate at the end. The differential fuzzer waits on round trips
# more than it computes, so --jobs N runs N of it at once (each with its own
# pair of servers and seed), and fails if any fails. Builds are release
# builds with overflow checks and debug assertions on, so arithmetic
# overflow is caught.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=60
seed=1
target=differential
survey=""
jobs=1
while [ $# -gt 0 ]; do
    case "$1" in
        --seconds) seconds="$2"; shift 2 ;;
        --seed) seed="$2"; shift 2 ;;
        --target) target="$2"; shift 2 ;;
        --survey) survey=1; shift ;;
        --jobs) jobs="$2"; shift 2 ;;
        -h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$seconds" in ''|*[!0-9]*) echo "fuzz.sh: --seconds takes a whole number" >&2; exit 2 ;; esac
case "$seed" in ''|*[!0-9]*) echo "fuzz.sh: --seed takes a whole number" >&2; exit 2 ;; esac
case "$jobs" in ''|0|*[!0-9]*) echo "fuzz.sh: --jobs takes a positive whole number" >&2; exit 2 ;; esac

# Release speed, but with the checks a fuzzer exists to trip.
export CARGO_PROFILE_RELEASE_OVERFLOW_CHECKS=true
export CARGO_PROFILE_RELEASE_DEBUG_ASSERTIONS=true
export CARGO_PROFILE_RELEASE_LTO=false
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target/fuzz}"

case "$target" in
    differential)
        if ! command -v redis-server >/dev/null 2>&1; then
            echo "fuzz.sh: redis-server is not on PATH (apt-get install -y redis-server)" >&2
            exit 1
        fi
        export FERROKV_FUZZ_SECONDS="$seconds"
        if [ -n "$survey" ]; then export FERROKV_FUZZ_SURVEY=1; fi
        cargo test --release --test fuzz --no-run
        pids=()
        for ((j = 0; j < jobs; j++)); do
            FERROKV_FUZZ_SEED=$((seed + j)) \
                cargo test -q --release --test fuzz fuzz_against_redis -- --nocapture &
            pids+=($!)
        done
        status=0
        for pid in "${pids[@]}"; do wait "$pid" || status=1; done
        exit "$status"
        ;;
    parser)
        export FERROKV_PARSER_FUZZ_SECONDS="$seconds" FERROKV_FUZZ_SEED="$seed"
        exec cargo test --release --test parser_fuzz request_parser -- --nocapture
        ;;
    aof-commands)
        export FERROKV_AOF_COMMANDS_FUZZ_SECONDS="$seconds" FERROKV_FUZZ_SEED="$seed"
        exec cargo test --release --test parser_fuzz aof_command_reader -- --nocapture
        ;;
    aof-manifest)
        export FERROKV_AOF_MANIFEST_FUZZ_SECONDS="$seconds" FERROKV_FUZZ_SEED="$seed"
        exec cargo test --release --test parser_fuzz aof_manifest_parser -- --nocapture
        ;;
    *)
        echo "fuzz.sh: unknown target $target (differential, parser, aof-commands or aof-manifest)" >&2
        exit 2
        ;;
esac
