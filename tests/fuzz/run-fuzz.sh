#!/bin/bash
# Fuzz every harness tests/fuzz/fuzz_NAME.c with libFuzzer, one after the
# other, and merge what adds coverage into its corpus tests/fuzz/corpus/NAME.
#
#   tests/fuzz/run-fuzz.sh [SECONDS [NAME...]]
#
# SECONDS per harness (default 600); NAMEs restrict the run to those
# harnesses (plan, spool, fuzz_plan, ...). Builds with clang, -DVS_FUZZ=ON
# (ASan + UBSan + libFuzzer) in a temporary directory. Each harness runs on
# a scratch copy of its corpus; new inputs are merged back with -merge=1, so
# the checked-in corpus only grows by inputs that reach new code. A dictionary
# tests/fuzz/NAME.dict, when there is one, is used. Exits
# non-zero when a harness crashes, leaks, times out or runs out of memory:
# the input, the build and the logs are kept (paths printed) and that
# harness's corpus is left as it was.
#
# Environment: CC (default clang), VS_FUZZ_JOBS (build jobs, default nproc),
# VS_FUZZ_KEEP=1 keeps the build and scratch directories, VS_FUZZ_CMAKE_ARGS
# adds configure options (e.g. -DVS_PLUGIN=OFF for the start helper's
# harnesses alone).
set -euo pipefail

seconds=${1:-600}
shift || true
if ! [[ $seconds =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "usage: $0 [SECONDS [NAME...]]" >&2
    exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
cc=${CC:-clang}
jobs=${VS_FUZZ_JOBS:-$(nproc)}

names=()
for f in "$here"/fuzz_*.c; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .c)
    name=${name#fuzz_}
    if [ $# -gt 0 ]; then
        wanted=0
        for w in "$@"; do
            [ "${w#fuzz_}" = "$name" ] && wanted=1
        done
        [ "$wanted" = 1 ] || continue
    fi
    names+=("$name")
done
if [ ${#names[@]} -eq 0 ]; then
    echo "$0: no harness tests/fuzz/fuzz_*.c matches: $*" >&2
    exit 2
fi
for w in "$@"; do
    [ -e "$here/fuzz_${w#fuzz_}.c" ] || {
        echo "$0: no harness tests/fuzz/fuzz_${w#fuzz_}.c" >&2
        exit 2
    }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/vs-fuzz.XXXXXX")
cleanup() {
    if [ "${VS_FUZZ_KEEP:-0}" = 1 ]; then
        echo "kept $work (build, logs, crash inputs)" >&2
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

read -r -a extra <<<"${VS_FUZZ_CMAKE_ARGS:-}"
echo "== building ${names[*]} (clang, VS_FUZZ=ON) in $work/build"
cmake -S "$src" -B "$work/build" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVS_FUZZ=ON "${extra[@]}" \
    >"$work/configure.log" 2>&1 || {
    cat "$work/configure.log" >&2
    exit 1
}
targets=()
for name in "${names[@]}"; do
    targets+=("fuzz_$name")
done
cmake --build "$work/build" -j "$jobs" --target "${targets[@]}"

mkdir -p "$work/crashes" "$work/tmp"
# Harnesses that need files make them under TMPDIR: gone with $work even
# when libFuzzer ends a process without running its exit handlers.
export TMPDIR="$work/tmp"
failed=()
for name in "${names[@]}"; do
    bin="$work/build/tests/fuzz_$name"
    corpus="$here/corpus/$name"
    scratch="$work/scratch/$name"
    mkdir -p "$corpus" "$scratch" "$work/crashes/$name"
    cp -a "$corpus/." "$scratch/"
    log="$work/$name.log"
    echo "== fuzz_$name: ${seconds}s on $(find "$corpus" -type f | wc -l) corpus files (log $log)"
    # One process at a time: the machine has other work.
    dict=()
    [ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
    rc=0
    "$bin" -max_total_time="$seconds" -timeout=5 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$work/crashes/$name/" \
        "${dict[@]}" "$scratch" >"$log" 2>&1 || rc=$?
    grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)' "$log" | tail -n 2 || true
    grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
    if [ "$rc" -ne 0 ]; then
        echo "!! fuzz_$name failed (exit $rc):" >&2
        grep -E 'ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error|SUMMARY' "$log" >&2 || tail -n 30 "$log" >&2
        for crash in "$work/crashes/$name"/*; do
            [ -e "$crash" ] && echo "!! input kept: $crash (replay: $bin $crash)" >&2
        done
        echo "!! log: $log" >&2
        failed+=("$name")
        continue
    fi
    rmdir "$work/crashes/$name" 2>/dev/null || true
    before=$(find "$corpus" -type f | wc -l)
    # Edges only (-use_counters=0): an input joins the checked-in corpus when
    # it reaches code no other input does, which keeps the corpus small.
    "$bin" -merge=1 -use_counters=0 -timeout=5 -rss_limit_mb=2048 \
        "$corpus" "$scratch" \
        >"$work/$name.merge.log" 2>&1 || {
        echo "!! fuzz_$name: merge failed (log $work/$name.merge.log)" >&2
        failed+=("$name")
        continue
    }
    after=$(find "$corpus" -type f | wc -l)
    echo "== fuzz_$name: corpus $before -> $after files ($(du -sh "$corpus" | cut -f1))"
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "FAILED: ${failed[*]} (inputs and logs under $work)" >&2
    VS_FUZZ_KEEP=1
    exit 1
fi
echo "all ${#names[@]} harnesses ran ${seconds}s without a finding"
