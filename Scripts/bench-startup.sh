#!/usr/bin/env bash
# Benchmark, not a test: median exec time of `CNI_COMMAND=VERSION` for swift-cni's loopback
# and for the Go reference (/usr/lib/cni/loopback), measured in the same run, and the ratio.
#
#   Scripts/bench-startup.sh [OURS_DIR]   (default: a fresh install into a temp dir)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
runs="${RUNS:-500}"

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[[ -x /usr/lib/cni/loopback ]] || need+=(containernetworking-plugins)
command -v python3 >/dev/null || need+=(python3)
if ((${#need[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

ours="${1:-}"
if [[ -z "$ours" ]]; then
    ours="$(mktemp -d)"
    trap 'rm -rf "$ours"' EXIT
    "$root/Scripts/install.sh" "$ours" >/dev/null
fi
report="$(mktemp)"
CNI_COMMAND=VERSION hyperfine -N --warmup 50 --runs "$runs" --export-json "$report" --style none \
    --command-name swift-cni "$ours/loopback" \
    --command-name go-reference /usr/lib/cni/loopback >/dev/null
python3 - "$report" <<'PY'
import json, sys
results = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
ours, ref = results["swift-cni"]["median"], results["go-reference"]["median"]
print(f"VERSION exec, median of {len(results['swift-cni']['times'])} runs")
print(f"  swift-cni loopback:     {ours * 1000:.3f} ms")
print(f"  Go reference loopback:  {ref * 1000:.3f} ms")
print(f"  ratio swift-cni / Go:   {ours / ref:.2f}")
PY
rm -f "$report"
