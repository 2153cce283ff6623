#!/usr/bin/env python3
"""Benchmark, not a test: how podman's chain (bridge with ipMasq + host-local, portmap,
firewall, tuning) ADD and DEL cost grows with the pods already attached, swift-cni and the Go
reference (/usr/lib/cni) in the same run, inside a scratch node namespace.

    sudo Scripts/bench-scale.py [OURS_DIR] [--steps 1,100,300,1000] [--reference-max 300]
                                [--samples 20] [--out DIR]

At each step N, N background pods are attached, then `samples` probe pods are added and
deleted one at a time and timed, as a whole and plugin by plugin. The reference stops at --reference-max (its iptables rules
make each step slow). Writes DIR/scale.csv and, with matplotlib, DIR/scale.png.
"""
import csv
import importlib.util
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
spec = importlib.util.spec_from_file_location("bench_bridge", os.path.join(ROOT, "Scripts", "bench-bridge.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def option(args, name, default):
    return args[args.index(name) + 1] if name in args else default


def attach(bin_dir, plugins, i, pod, times=None):
    previous = None
    for plugin in plugins:
        start = time.perf_counter()
        previous = bench.invoke(bin_dir, plugin, "ADD", i, pod, previous)
        if times is not None:
            times.setdefault(plugin["type"], []).append(time.perf_counter() - start)
    return previous


def detach(bin_dir, plugins, i, pod, result, times=None):
    for plugin in reversed(plugins):
        start = time.perf_counter()
        bench.invoke(bin_dir, plugin, "DEL", i, pod, result)
        if times is not None:
            times.setdefault(plugin["type"], []).append(time.perf_counter() - start)


def breakdown(times):
    """Each plugin's median, so growth with pods can be pinned on one of them."""
    return " ".join(f"{name} {statistics.median(values) * 1000:.1f}" for name, values in times.items())


def measure(label, bin_dir, steps, samples, scratch, bridge):
    plugins = bench.plugin_list(os.path.join(scratch, label), bridge, True)
    background, rows = {}, []
    probes = [f"scale-probe-{os.getpid()}-{k}" for k in range(samples)]
    for pod in probes:
        subprocess.run(["ip", "netns", "add", pod], check=True)
    try:
        for step in steps:
            while len(background) < step:
                i = len(background)
                pod = f"scale-{os.getpid()}-{label[:2]}-{i}"
                subprocess.run(["ip", "netns", "add", pod], check=True)
                background[i] = (pod, attach(bin_dir, plugins, i, pod))
            adds, dels = [], []
            add_times, del_times = {}, {}
            for k, pod in enumerate(probes):
                i = 30000 + k  # host port 50000 + k, clear of the background pods
                start = time.perf_counter()
                result = attach(bin_dir, plugins, i, pod, add_times)
                adds.append(time.perf_counter() - start)
                start = time.perf_counter()
                detach(bin_dir, plugins, i, pod, result, del_times)
                dels.append(time.perf_counter() - start)
            adds.sort()
            dels.sort()
            row = {"implementation": label, "pods": step, "add_median_ms": statistics.median(adds) * 1000,
                   "add_p90_ms": adds[int(len(adds) * 0.9)] * 1000, "del_median_ms": statistics.median(dels) * 1000,
                   "del_p90_ms": dels[int(len(dels) * 0.9)] * 1000}
            rows.append(row)
            print(f"{label:<13} {step:>5} pods: ADD {row['add_median_ms']:7.2f} ms (p90 {row['add_p90_ms']:7.2f})"
                  f"  DEL {row['del_median_ms']:7.2f} ms (p90 {row['del_p90_ms']:7.2f})", flush=True)
            print(f"{'':<13} {'':>5}       ADD by plugin (ms): {breakdown(add_times)}; DEL: {breakdown(del_times)}",
                  flush=True)
    finally:
        for i, (pod, result) in background.items():
            try:
                detach(bin_dir, plugins, i, pod, result)
            except SystemExit:
                pass
            subprocess.run(["ip", "netns", "delete", pod], capture_output=True)
        for pod in probes:
            subprocess.run(["ip", "netns", "delete", pod], capture_output=True)
        subprocess.run(["ip", "link", "delete", bridge], capture_output=True)
    return rows


def plot(rows, out):
    """The same plot as Scripts/bench.py's (matplotlib belongs to Debian's /usr/bin/python3)."""
    full = importlib.util.spec_from_file_location("bench_all", os.path.join(ROOT, "Scripts", "bench.py"))
    module = importlib.util.module_from_spec(full)
    full.loader.exec_module(module)
    module.plot(rows, out, "podman's chain as pods grow (Scripts/bench-scale.py)")
    print(f"plot: {os.path.join(out, 'scale.png')}")


def inner(args):
    ours = args[args.index("--inner") + 1]
    steps = [int(s) for s in option(args, "--steps", "1,100,300,1000").split(",")]
    reference_max = int(option(args, "--reference-max", "300"))
    samples = int(option(args, "--samples", "20"))
    out = option(args, "--out", ".")
    scratch = tempfile.mkdtemp(prefix="bench-scale-")
    rows = measure("swift-cni", ours, steps, samples, scratch, "scalebr0")
    rows += measure("reference", bench.REFERENCE, [s for s in steps if s <= reference_max], samples, scratch, "scalebr1")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "scale.csv"), "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
        writer.writeheader()
        writer.writerows(rows)
    for label in ("swift-cni", "reference"):
        mine = [r for r in rows if r["implementation"] == label]
        if len(mine) > 1:
            print(f"{label}: ADD at {mine[-1]['pods']} pods / at {mine[0]['pods']} = "
                  f"{mine[-1]['add_median_ms'] / mine[0]['add_median_ms']:.2f}, DEL "
                  f"{mine[-1]['del_median_ms'] / mine[0]['del_median_ms']:.2f}")
    plot(rows, out)


def main():
    args = sys.argv[1:]
    if "--inner" in args:
        inner(args)
        return
    valued = {"--steps", "--reference-max", "--samples", "--out"}
    positional = [a for i, a in enumerate(args) if not a.startswith("--") and (i == 0 or args[i - 1] not in valued)]
    scratch = tempfile.mkdtemp(prefix="bench-bin-")
    node = f"benchnode-{os.getpid()}"
    out = os.path.abspath(option(args, "--out", os.path.join(ROOT, ".build", "bench")))
    try:
        ours = positional[0] if positional else os.path.join(scratch, "bin")
        if not positional:
            subprocess.run([os.path.join(ROOT, "Scripts/install.sh"), ours], check=True, stdout=subprocess.DEVNULL)
        subprocess.run(["ip", "netns", "add", node], check=True)
        forwarded = []
        for name in ("--steps", "--reference-max", "--samples"):
            if name in args:
                forwarded += [name, option(args, name, "")]
        subprocess.run(["ip", "netns", "exec", node, sys.executable, os.path.abspath(__file__), "--inner",
                        os.path.abspath(ours), "--out", out] + forwarded, check=True)
    finally:
        subprocess.run(["ip", "netns", "delete", node], capture_output=True)
        subprocess.run(["rm", "-rf", scratch])


if __name__ == "__main__":
    main()
