#!/usr/bin/env bash
# Every benchmark in one command, each measuring swift-cni and the Go reference (/usr/lib/cni)
# in the same run and reporting ratios; the scaling run also writes a CSV and a plot.
#
#   sudo Scripts/bench.sh [OURS_DIR] [--quick]
#
# OURS_DIR defaults to a fresh release install. --quick uses fewer pods (a few minutes); the
# full run goes to 1,000 pods for swift-cni and 300 for the reference (half an hour or more).
# Results: .build/bench/ (scale.csv, scale.png).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
quick=0
ours=""
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        *) ours="$arg" ;;
    esac
done
need=()
for pkg in hyperfine python3-matplotlib containernetworking-plugins iptables; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
if [[ -z "$ours" ]]; then
    ours="$root/.build/bench-bin"
    "$root/Scripts/install.sh" "$ours" >/dev/null
fi
out="$root/.build/bench"
mkdir -p "$out"
if ((quick)); then pods=50; steps=1,50,150; refmax=150; samples=10; else pods=200; steps=1,100,300,1000; refmax=300; samples=20; fi

echo "== start-up";                    "$root/Scripts/bench-startup.sh" "$ours"
echo "== host-local";                  "$root/Scripts/bench-ipam.py" "$ours"
echo "== bridge + host-local";         "$root/Scripts/bench-bridge.py" "$ours" --pods "$pods"
echo "== podman's chain";              "$root/Scripts/bench-bridge.py" "$ours" --pods "$pods" --chain
echo "== podman's chain as pods grow"; "$root/Scripts/bench-scale.py" "$ours" --steps "$steps" \
    --reference-max "$refmax" --samples "$samples" --out "$out"
