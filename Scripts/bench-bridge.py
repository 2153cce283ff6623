#!/usr/bin/env python3
"""Benchmark, not a test: bridge + host-local ADD and DEL for N pods, swift-cni and the Go
reference (/usr/lib/cni, Debian containernetworking-plugins) in the same run.

    sudo Scripts/bench-bridge.py [OURS_DIR] [--pods N]

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


def run_pods(bin_dir, pods, data_dir, bridge):
    config = json.dumps({"cniVersion": "1.0.0", "name": "benchnet", "type": "bridge", "bridge": bridge, "isGateway": True,
                         "ipam": {"type": "host-local", "subnet": "10.66.0.0/16", "dataDir": data_dir}}).encode()
    timings = {"ADD": [], "DEL": []}
    for command in ("ADD", "DEL"):
        for i, pod in enumerate(pods):
            env = {"CNI_COMMAND": command, "CNI_CONTAINERID": f"bench{i}", "CNI_NETNS": f"/run/netns/{pod}",
                   "CNI_IFNAME": "eth0", "CNI_PATH": bin_dir, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
            start = time.perf_counter()
            done = subprocess.run([os.path.join(bin_dir, "bridge")], input=config, env=env, capture_output=True)
            timings[command].append(time.perf_counter() - start)
            if done.returncode != 0:
                sys.exit(f"{bin_dir}/bridge {command} failed: {done.stdout.decode()} {done.stderr.decode()}")
    subprocess.run(["ip", "link", "delete", bridge], capture_output=True)
    return timings


def inner(ours, count):
    pods = [f"benchpod-{os.getpid()}-{i}" for i in range(count)]
    scratch = tempfile.mkdtemp(prefix="bench-bridge-")
    try:
        for pod in pods:
            subprocess.run(["ip", "netns", "add", pod], check=True)
        results = {}
        for label, bin_dir, bridge in (("swift-cni", ours, "benchbr0"), ("go-reference", REFERENCE, "benchbr1")):
            results[label] = run_pods(bin_dir, pods, os.path.join(scratch, label), bridge)
        print(f"bridge + host-local, {count} pods (ms)")
        print(f"{'implementation':<14} {'op':<4} {'median':>8} {'p90':>8}")
        for label, timings in results.items():
            for op, values in timings.items():
                values.sort()
                print(f"{label:<14} {op:<4} {statistics.median(values) * 1000:>8.2f} {values[int(len(values) * 0.9)] * 1000:>8.2f}")
        for op in ("ADD", "DEL"):
            ratio = statistics.median(results["swift-cni"][op]) / statistics.median(results["go-reference"][op])
            print(f"{op}: swift-cni / go-reference = {ratio:.2f}")
    finally:
        for pod in pods:
            subprocess.run(["ip", "netns", "delete", pod], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


def main():
    args = sys.argv[1:]
    count = int(args[args.index("--pods") + 1]) if "--pods" in args else 200
    if "--inner" in args:
        inner(args[args.index("--inner") + 1], count)
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
                        "--pods", str(count)], check=True)
    finally:
        subprocess.run(["ip", "netns", "delete", node], capture_output=True)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
