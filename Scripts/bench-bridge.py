#!/usr/bin/env python3
"""Benchmark, not a test: bridge + host-local ADD and DEL for N pods, swift-cni and the Go
reference (/usr/lib/cni, Debian containernetworking-plugins) in the same run.

    sudo Scripts/bench-bridge.py [OURS_DIR] [--pods N] [--chain]

With --chain, each pod runs podman's default plugin list instead (bridge, portmap with one
host port, firewall, tuning), each plugin exec'd with the previous result as libcni does,
and DEL in reverse order; the reference's portmap and firewall then drive iptables.

Everything happens inside a scratch "node" network namespace (the real host is not touched);
the pods are namespaces created before timing starts. Prints median and p90 per operation and
the ours/reference ratios.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REFERENCE = "/usr/lib/cni"


def plugin_list(data_dir, bridge, chain):
    plugins = [{"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": chain,
                "ipam": {"type": "host-local", "subnet": "10.66.0.0/16", "dataDir": data_dir}}]
    if chain:
        plugins += [{"type": "portmap", "capabilities": {"portMappings": True}}, {"type": "firewall"}, {"type": "tuning"}]
    return plugins


def invoke(bin_dir, plugin, command, i, pod, previous):
    config = dict(plugin, cniVersion="1.0.0", name="benchnet")
    if plugin["type"] == "portmap":
        config["runtimeConfig"] = {"portMappings": [{"hostPort": 20000 + i, "containerPort": 80, "protocol": "tcp"}]}
    if previous is not None:
        config["prevResult"] = previous
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": f"bench{i}", "CNI_NETNS": f"/run/netns/{pod}",
           "CNI_IFNAME": "eth0", "CNI_PATH": bin_dir, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    done = subprocess.run([os.path.join(bin_dir, plugin["type"])], input=json.dumps(config).encode(), env=env, capture_output=True)
    if done.returncode != 0:
        sys.exit(f"{bin_dir}/{plugin['type']} {command} failed: {done.stdout.decode()} {done.stderr.decode()}")
    return json.loads(done.stdout) if command == "ADD" else None


def run_pods(bin_dir, pods, data_dir, bridge, chain):
    plugins = plugin_list(data_dir, bridge, chain)
    timings = {"ADD": [], "DEL": []}
    results = {}
    for i, pod in enumerate(pods):
        start = time.perf_counter()
        previous = None
        for plugin in plugins:
            previous = invoke(bin_dir, plugin, "ADD", i, pod, previous)
        timings["ADD"].append(time.perf_counter() - start)
        results[i] = previous
    for i, pod in enumerate(pods):
        start = time.perf_counter()
        for plugin in reversed(plugins):
            invoke(bin_dir, plugin, "DEL", i, pod, results[i])
        timings["DEL"].append(time.perf_counter() - start)
    subprocess.run(["ip", "link", "delete", bridge], capture_output=True)
    return timings


def delete_link(index):
    """RTM_DELLINK over a raw netlink socket and wait for the ACK: the kernel's own cost of
    deleting a link, with no process start around it."""
    import socket
    import struct
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as s:  # NETLINK_ROUTE
        s.bind((0, 0))
        ifinfo = struct.pack("=BxHiII", 0, 0, index, 0, 0)
        s.send(struct.pack("=IHHII", 16 + len(ifinfo), 17, 0x1 | 0x4, 1, 0) + ifinfo)  # REQUEST|ACK
        s.recv(4096)


def kernel_veth_delete(pods):
    """Median time the kernel takes to delete a pod's veth (created outside the timing)."""
    times = []
    for i, pod in enumerate(pods):
        name = f"benchk{i}"
        subprocess.run(["ip", "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", pod], check=True)
        subprocess.run(["ip", "link", "set", name, "up"], check=True)
        index = int(open(f"/sys/class/net/{name}/ifindex").read())
        start = time.perf_counter()
        delete_link(index)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def inner(ours, count, chain):
    pods = [f"benchpod-{os.getpid()}-{i}" for i in range(count)]
    scratch = tempfile.mkdtemp(prefix="bench-bridge-")
    try:
        for pod in pods:
            subprocess.run(["ip", "netns", "add", pod], check=True)
        results = {}
        for label, bin_dir, bridge in (("swift-cni", ours, "benchbr0"), ("go-reference", REFERENCE, "benchbr1")):
            results[label] = run_pods(bin_dir, pods, os.path.join(scratch, label), bridge, chain)
        title = "bridge (ipMasq) + host-local, portmap, firewall, tuning" if chain else "bridge + host-local"
        print(f"{title}, {count} pods (ms per pod)")
        print(f"{'implementation':<14} {'op':<4} {'median':>8} {'p90':>8}")
        for label, timings in results.items():
            for op, values in timings.items():
                values.sort()
                print(f"{label:<14} {op:<4} {statistics.median(values) * 1000:>8.2f} {values[int(len(values) * 0.9)] * 1000:>8.2f}")
        for op in ("ADD", "DEL"):
            ratio = statistics.median(results["swift-cni"][op]) / statistics.median(results["go-reference"][op])
            print(f"{op}: swift-cni / go-reference = {ratio:.2f}")
        if not chain:
            kernel = kernel_veth_delete(pods)
            ours_del = statistics.median(results["swift-cni"]["DEL"]) * 1000
            print(f"kernel veth delete median {kernel:.2f} ms; swift-cni DEL minus that: {ours_del - kernel:.2f} ms")
    finally:
        for pod in pods:
            subprocess.run(["ip", "netns", "delete", pod], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


def main():
    args = sys.argv[1:]
    count = int(args[args.index("--pods") + 1]) if "--pods" in args else 200
    if "--inner" in args:
        inner(args[args.index("--inner") + 1], count, "--chain" in args)
        return
    positional = [a for i, a in enumerate(args) if not a.startswith("--") and (i == 0 or args[i - 1] != "--pods")]
    if not os.path.exists(REFERENCE + "/bridge"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "containernetworking-plugins"], check=True)
    scratch = tempfile.mkdtemp(prefix="bench-bin-")
    node = f"benchnode-{os.getpid()}"
    try:
        ours = positional[0] if positional else os.path.join(scratch, "bin")
        if not positional:
            subprocess.run([os.path.join(ROOT, "Scripts/install.sh"), ours], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "add", node], check=True)
        subprocess.run(["ip", "netns", "exec", node, sys.executable, os.path.abspath(__file__), "--inner", os.path.abspath(ours),
                        "--pods", str(count)] + (["--chain"] if "--chain" in args else []), check=True)
    finally:
        subprocess.run(["ip", "netns", "delete", node], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
