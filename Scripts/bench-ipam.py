#!/usr/bin/env python3
"""Benchmark, not a test: host-local ADD cost in a /16, empty and with 10,000 reservations,
for swift-cni and for the Go reference (/usr/lib/cni/host-local), measured in the same run.

    Scripts/bench-ipam.py [OURS_DIR] [--runs N]

OURS_DIR defaults to a fresh `Scripts/install.sh` into a temp dir. Prints the median and p90
exec time of one ADD per case, and ours/reference ratios.
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
REFERENCE = "/usr/lib/cni/host-local"


def prefill(data_dir, count):
    net = os.path.join(data_dir, "bench")
    os.makedirs(net, exist_ok=True)
    for i in range(count):
        ip = f"10.88.{(i + 2) // 256}.{(i + 2) % 256}"
        with open(os.path.join(net, ip), "w") as f:
            f.write(f"prefill{i}\r\neth0")
    with open(os.path.join(net, "last_reserved_ip.0"), "w") as f:
        f.write(f"10.88.{(count + 1) // 256}.{(count + 1) % 256}")


def measure(binary, data_dir, runs):
    config = json.dumps({"cniVersion": "1.0.0", "name": "bench", "type": "bridge",
                         "ipam": {"type": "host-local", "subnet": "10.88.0.0/16", "dataDir": data_dir}})
    times = []
    for i in range(runs):
        env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": f"bench{i}", "CNI_NETNS": "/run/netns/none",
               "CNI_IFNAME": "eth0", "CNI_PATH": os.path.dirname(binary), "PATH": "/usr/bin:/bin"}
        start = time.perf_counter()
        done = subprocess.run([binary], input=config.encode(), env=env, capture_output=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            sys.exit(f"{binary} failed: {done.stdout.decode()}")
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.9)]


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 100
    if "--runs" in sys.argv:
        args = [a for a in args if a != str(runs)]
    if not os.path.exists(REFERENCE):
        subprocess.run(["apt-get", "install", "-y", "-qq", "containernetworking-plugins"], check=True)
    scratch = tempfile.mkdtemp(prefix="bench-ipam-")
    try:
        ours_dir = args[0] if args else os.path.join(scratch, "bin")
        if not args:
            subprocess.run([os.path.join(ROOT, "Scripts/install.sh"), ours_dir], check=True, stdout=subprocess.DEVNULL)
        ours = os.path.join(ours_dir, "host-local")
        rows = []
        for label, binary in (("swift-cni", ours), ("go-reference", REFERENCE)):
            for reserved in (0, 10000):
                data_dir = os.path.join(scratch, f"{label}-{reserved}")
                prefill(data_dir, reserved)
                median, p90 = measure(binary, data_dir, runs)
                rows.append((label, reserved, median, p90))
        print(f"host-local ADD in a /16, {runs} ADDs per case (ms)")
        print(f"{'implementation':<14} {'reserved':>8} {'median':>8} {'p90':>8}")
        for label, reserved, median, p90 in rows:
            print(f"{label:<14} {reserved:>8} {median * 1000:>8.2f} {p90 * 1000:>8.2f}")
        by = {(r[0], r[1]): r[2] for r in rows}
        print(f"swift-cni: 10,000 reserved / empty = {by[('swift-cni', 10000)] / by[('swift-cni', 0)]:.2f}")
        print(f"go-reference: 10,000 reserved / empty = {by[('go-reference', 10000)] / by[('go-reference', 0)]:.2f}")
        for reserved in (0, 10000):
            print(f"swift-cni / go-reference with {reserved} reserved = {by[('swift-cni', reserved)] / by[('go-reference', reserved)]:.2f}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
