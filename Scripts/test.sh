#!/usr/bin/env bash
# Runs every test: unit tests, and as root the integration and interop tests against the
# release build installed into .build/cni-test-bin, exactly as a runtime would exec it.
# Installs the Debian packages the tests use when they are missing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [[ $(id -u) -eq 0 ]]; then
    # iproute2: netns and `ip -j`; containernetworking-plugins: the Go reference (oracle);
    # golang-go + golang-github-appc-cni-dev: the libcni driver; podman + runc + busybox-static:
    # a real runtime with its CNI backend, and busybox's udhcpd a DHCP server; containerd (its
    # CRI plugin) + python3-grpcio + python3-grpc-tools: pods run over CRI gRPC as kubelet does;
    # nftables, iptables (iptables-save; the reference's rules), strace: checks; python3: traffic
    # helpers; systemd: systemd-socket-activate for the dhcp daemon; procps, util-linux, mount:
    # sysctl, pgrep, nsenter, unshare, findmnt.
    wanted=(iproute2 nftables iptables strace iputils-ping procps util-linux mount containernetworking-plugins golang-go
            golang-github-appc-cni-dev libnftnl-dev libmnl-dev podman runc busybox-static
            containerd python3-grpcio python3-grpc-tools python3 systemd)
    need=()
    for pkg in "${wanted[@]}"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
    done
    if ((${#need[@]})); then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
    fi
else
    echo "test.sh: not root: integration and interop tests will be SKIPPED (they need network namespaces)" >&2
fi

bin="$root/.build/cni-test-bin"
separate="$root/.build/cni-test-separate"
rm -rf "$bin" "$separate"
Scripts/install.sh "$bin"
Scripts/install.sh --separate "$separate"

# The code follows .swift-format, and every target imports only what Package.swift declares.
swift format lint --strict --recursive Sources Tests Package.swift
swift build --build-tests --explicit-target-dependency-import-check error

status=0
log="$root/.build/test.log"
SWIFT_CNI_BIN_DIR="$bin" SWIFT_CNI_SEPARATE_DIR="$separate" swift test "$@" 2>&1 | tee "$log" || status=$?

# Every fuzz target for a short fixed count (the full million: Scripts/fuzz.sh).
Scripts/fuzz.sh all 20000 || status=1

# As root everything the tests need was installed above, so a skipped test means a missing
# package or a broken set-up, not a reason to pass.
if [[ $(id -u) -eq 0 ]]; then
    skipped="$(grep -E '^[^ ]+ (Test|Suite) ".*" skipped' "$log" || true)"
    if [[ -n "$skipped" ]]; then
        echo "test.sh: tests were skipped although running as root:" >&2
        echo "$skipped" >&2
        status=1
    fi
fi

# Every integration test removes what it made; anything left is a bug worth failing for.
if [[ $(id -u) -eq 0 ]]; then
    leftovers="$(ip netns list | grep -o '^cnit-[^ ]*' || true)"
    if [[ -n "$leftovers" ]]; then
        echo "test.sh: tests left network namespaces behind: $leftovers" >&2
        for ns in $leftovers; do ip netns delete "$ns" || true; done
        status=1
    fi
    # Helpers the tests start (udhcpd, dhcp daemons) run with `cnit-` scratch paths in argv.
    procs="$(pgrep -af 'cnit-' | grep -v -e pgrep -e "$0" || true)"
    if [[ -n "$procs" ]]; then
        echo "test.sh: tests left processes behind: $procs" >&2
        pkill -9 -f '/cnit-' || true
        status=1
    fi
fi
scratch="$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'cnit-*' 2>/dev/null || true)"
if [[ -n "$scratch" ]]; then
    echo "test.sh: tests left scratch directories behind: $scratch" >&2
    status=1
fi
exit "$status"
