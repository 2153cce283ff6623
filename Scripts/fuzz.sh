#!/usr/bin/env bash
# Runs the libFuzzer targets over their corpora, each named as it runs.
#
#   Scripts/fuzz.sh [TARGET|all] [RUNS]     (default: all targets, 1,000,000 runs each)
#
# Targets: json config result args netlink nft dhcp lease. The build is instrumented (libFuzzer,
# AddressSanitizer with leak detection) in .build/fuzz. New inputs the fuzzer finds go to a
# scratch directory; Tests/FuzzTests/Corpus/<target>/ is only read, except that an input that
# crashes is copied there, so FuzzRegressionTests runs it from then on. Exit 1 on any crash.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
all=(json config result args netlink nft dhcp lease)
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
work="" artifacts=""
# Scratch named cnit-*, so test.sh's leak check sees any that survive an interrupted run.
trap 'rm -rf "$work" "$artifacts" "$work.log"' EXIT
for target in "${targets[@]}"; do
    corpus="Tests/FuzzTests/Corpus/$target"
    [[ -d "$corpus" ]] || { echo "fuzz.sh: unknown target $target (known: ${all[*]})" >&2; exit 2; }
    work="$(mktemp -d -t cnit-fuzz.XXXXXX)"
    artifacts="$(mktemp -d -t cnit-fuzz-artifacts.XXXXXX)"
    echo "== fuzz $target: $runs runs"
    if ! SWIFT_CNI_FUZZ_TARGET="$target" "$bin" -runs="$runs" -max_len=16384 -max_total_time=900 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "$corpus" >"$work.log" 2>&1; then
        status=1
        grep -v "ld.gold" "$work.log" | grep -E "ERROR|Fatal|#[0-9]+ .* in |SUMMARY" | head -40 >&2 || true
        for input in "$artifacts"/crash-* "$artifacts"/leak-* "$artifacts"/oom-* "$artifacts"/timeout-*; do
            [[ -f "$input" ]] || continue
            kept="$corpus/$(basename "$input" | cut -d- -f1)-$(sha1sum "$input" | cut -c1-16)"
            cp "$input" "$kept"
            # The log keeps the input too, for a CI machine whose tree is thrown away.
            echo "fuzz.sh: $target failed on the input kept as $kept (base64: $(base64 -w0 "$input"))" >&2
        done
    else
        grep -E "^stat::(number_of_executed_units|peak_rss_mb)" "$work.log" | tr '\n' ' ' || true
        echo
    fi
    rm -rf "$work" "$work.log" "$artifacts"
done
exit "$status"
