#!/usr/bin/env bash
# Regenerates Scripts/symbol-order.txt, the order Scripts/install.sh's link puts functions and
# data in: first every function podman's chain, containerd's loopback, VERSION and STATUS run
# (callgrind), then, over a few relinks, whatever still faults outside the list (perf). Run it
# as root after changes to the plugins' hot paths; it takes about six minutes.
#
#   sudo Scripts/symbol-order.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
need=()
for pkg in valgrind linux-perf binutils; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if ((${#need[@]})); then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
order="$root/Scripts/symbol-order.txt"
scratch="$(mktemp -d /tmp/cnit-order-bin-XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
cd "$root"
binary="$(swift build -c release --disable-local-rpath --show-bin-path)/cni-plugins"
Scripts/install.sh "$scratch" >/dev/null
echo "functions called: $(/usr/bin/python3 Scripts/symbol-order.py calls "$binary" "$order")"
# SwiftPM relinks only when an input it knows of changed, and the order file is not one.
for round in $(seq 12); do
    rm -f "$binary"
    Scripts/install.sh "$scratch" >/dev/null
    added="$(/usr/bin/python3 Scripts/symbol-order.py faults "$binary" "$order")"
    echo "round $round: $added more symbols that faulted"
    ((added)) || break
done
rm -f "$binary"
Scripts/install.sh "$scratch" >/dev/null
