#!/usr/bin/env bash
# See swift-cni work on this machine, with nothing to configure:
#   sudo Scripts/demo.sh [PLUGIN_DIR]        (default /opt/cni/bin, as Scripts/install.sh puts them)
#
# Creates two network namespaces, attaches both through Plugins-Config-Examples/bridge.conflist
# (bridge + host-local, state in a temp dir), pings one pod from the other and from the host,
# prints the plugin results, and removes everything it made.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${1:-/opt/cni/bin}"
[[ $(id -u) -eq 0 ]] || { echo "demo.sh: run as root (it creates namespaces and a bridge)" >&2; exit 1; }
[[ -x "$bin/bridge" && -x "$bin/host-local" ]] || { echo "demo.sh: no plugins in $bin; run Scripts/install.sh first" >&2; exit 1; }
command -v python3 >/dev/null || { apt-get update -qq && apt-get install -y -qq python3 >/dev/null; }

work="$(mktemp -d)"
pods=("cni-demo-a-$$" "cni-demo-b-$$")
bridge="cni-demo0"
bridge_existed=0; ip link show "$bridge" >/dev/null 2>&1 && bridge_existed=1
forward="$(cat /proc/sys/net/ipv4/ip_forward)"
table_existed=0; command -v nft >/dev/null && nft list table inet cni_plugins_masquerade >/dev/null 2>&1 && table_existed=1

# The example's first plugin, as a runtime hands it to the plugin, with state kept in $work.
python3 - "$root/Plugins-Config-Examples/bridge.conflist" "$work" >"$work/bridge.json" <<'PY'
import json, sys
conflist = json.load(open(sys.argv[1]))
plugin = dict(conflist["plugins"][0], name=conflist["name"], cniVersion=conflist["cniVersion"])
plugin["ipam"]["dataDir"] = sys.argv[2]
print(json.dumps(plugin))
PY

cni() {  # cni COMMAND POD
    CNI_COMMAND="$1" CNI_CONTAINERID="$2" CNI_NETNS="/run/netns/$2" CNI_IFNAME=eth0 CNI_PATH="$bin" \
        "$bin/bridge" <"$work/bridge.json"
}

cleanup() {
    for pod in "${pods[@]}"; do
        cni DEL "$pod" >/dev/null 2>&1 || true
        ip netns delete "$pod" 2>/dev/null || true
    done
    ((bridge_existed)) || ip link delete "$bridge" 2>/dev/null || true
    if ((!table_existed)) && command -v nft >/dev/null; then nft delete table inet cni_plugins_masquerade 2>/dev/null || true; fi
    echo "$forward" >/proc/sys/net/ipv4/ip_forward  # the bridge's isGateway turned forwarding on
    rm -rf "$work"
}
trap cleanup EXIT

declare -A address
for pod in "${pods[@]}"; do
    ip netns add "$pod"
    echo "== ADD $pod"
    result="$(cni ADD "$pod")"
    echo "$result"
    address[$pod]="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["ips"][0]["address"].split("/")[0])' "$result")"
done

echo "== ${pods[0]} pings ${pods[1]} (${address[${pods[1]}]})"
ip netns exec "${pods[0]}" ping -c 2 -W 2 "${address[${pods[1]}]}"
echo "== the host pings ${pods[0]} (${address[${pods[0]}]})"
ping -c 2 -W 2 "${address[${pods[0]}]}"

for pod in "${pods[@]}"; do
    echo "== DEL $pod"
    cni DEL "$pod"
done
echo "== done: the demo removed its namespaces, bridge and state"
