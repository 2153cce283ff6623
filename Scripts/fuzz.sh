#!/usr/bin/env bash
# Runs the libFuzzer targets over their corpora, each named as it runs.
#
#   Scripts/fuzz.sh [TARGET|all] [RUNS]     (default: all targets, 1,000,000 runs each)
#
# Targets: json config result args netlink nft dhcp. The build is instrumented (libFuzzer,
# AddressSanitizer with leak detection) in .build/fuzz. New inputs the fuzzer finds go to a
# scratch directory; Tests/FuzzTests/Corpus/<target>/ is only read, except that an input that
# crashes is copied there, so FuzzRegressionTests runs it from then on. Exit 1 on any crash.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
all=(json config result args netlink nft dhcp)
which="${1:-all}"
runs="${2:-1000000}"
if [[ "$which" == all ]]; then targets=("${all[@]}"); else targets=("$which"); fi

scratch="$root/.build/fuzz"
mkdir -p "$root/.build"
if ! SWIFT_CNI_FUZZ=1 swift build --scratch-path "$scratch" --product cni-fuzz \
    -Xswiftc -sanitize=fuzzer,address -Xcc -fsanitize=fuzzer-no-link,address >"$scratch.log" 2>&1; then
    cat "$scratch.log" >&2
    exit 1
fi
bin="$scratch/debug/cni-fuzz"

status=0
for target in "${targets[@]}"; do
    corpus="Tests/FuzzTests/Corpus/$target"
    [[ -d "$corpus" ]] || { echo "fuzz.sh: unknown target $target (known: ${all[*]})" >&2; exit 2; }
    work="$(mktemp -d)"
    artifacts="$(mktemp -d)"
    echo "== fuzz $target: $runs runs"
    if ! SWIFT_CNI_FUZZ_TARGET="$target" "$bin" -runs="$runs" -max_len=16384 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$work" "$corpus" >"$work.log" 2>&1; then
        status=1
        tail -40 "$work.log" >&2
        for input in "$artifacts"/*; do
            [[ -f "$input" ]] || continue
            kept="$corpus/crash-$(sha1sum "$input" | cut -c1-16)"
            cp "$input" "$kept"
            echo "fuzz.sh: $target crashed; the input is kept as $kept" >&2
        done
    else
        grep -E "^(stat::number_of_executed_units|stat::peak_rss_mb)" "$work.log" | tr '\n' ' '
        echo
    fi
    rm -rf "$work" "$work.log" "$artifacts"
done
exit "$status"
