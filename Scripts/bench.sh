#!/usr/bin/env bash
# Every benchmark in one command: swift-cni against the Go reference (/usr/lib/cni), taking
# turns in the same run, printed as one table with the ratio per row; DIR gets table.md,
# results.json and scale.png (chain ADD and DEL latency against pods already mapped).
#
#   sudo Scripts/bench.sh [OURS_DIR] [--quick] [--out DIR]
#
# OURS_DIR defaults to a fresh release install; DIR to .build/bench. The full run takes about
# half an hour (swift-cni to 1,000 pods, the reference to 300); --quick a few minutes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ours=""
pass=()
while (($#)); do
    case "$1" in
        --quick) pass+=("$1") ;;
        --out) pass+=("$1" "$2"); shift ;;
        *) ours="$1" ;;
    esac
    shift
done
need=()
for pkg in hyperfine time python3-matplotlib containernetworking-plugins iptables golang-go golang-github-appc-cni-dev; do
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
# Debian's matplotlib belongs to its own interpreter.
exec /usr/bin/python3 "$root/Scripts/bench.py" "$ours" "${pass[@]}"
