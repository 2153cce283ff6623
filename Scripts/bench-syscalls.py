#!/usr/bin/env python3
"""Benchmark, not a test: where podman's chain spends its time with N pods already attached,
plugin by plugin, from each plugin process's own system calls and scheduling (perf): its
requests to the kernel (sendto; the longest one apart: for bridge DEL, the pod's veth delete),
the time it was runnable but had no CPU, and the rest.

    sudo Scripts/bench-syscalls.py [OURS_DIR] [--pods 0,1000] [--samples 20]

A separately timed kernel floor runs in other conditions (right after its own setup), so the
split is taken inside the plugin processes themselves. Needs perf (Debian linux-perf).
"""
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "Scripts"))
import bench_lib as B  # noqa: E402

SENDTO = 44  # x86_64
EVENTS = ["-e", "raw_syscalls:sys_enter", "--exclude-perf", "-e", "raw_syscalls:sys_exit", "--exclude-perf",
          "-e", "sched:sched_process_exec", "-e", "sched:sched_process_exit", "-e", "sched:sched_switch"]


def option(args, name, default):
    return args[args.index(name) + 1] if name in args else default


def probe(node, plugins, pods, samples, trace):
    """Attaches `pods`, then records `samples` chain ADDs and DELs with perf."""
    for i, pod in enumerate(pods):
        B.attach(node, plugins, i, pod)
    probes = [node.pod() for _ in range(samples)]
    perf = subprocess.Popen(["perf", "record", "-q", "-o", trace, *EVENTS, "-a"])
    time.sleep(1.5)  # perf is recording once its start-up is over
    for k, pod in enumerate(probes):
        i = 30000 + k
        result = B.attach(node, plugins, i, pod)
        B.detach(node, plugins, i, pod, result)
        time.sleep(0.2)
    perf.send_signal(signal.SIGINT)
    perf.wait()


class Process:
    """One plugin run: its requests' durations, and the time its main thread waited for a CPU."""

    def __init__(self, name, start):
        self.name, self.start, self.sends, self.waiting, self.preempted_at = name, start, [], 0.0, None


def processes(trace, bin_dir):
    """Each plugin process of `bin_dir` in the trace, in start order, with its exec-to-exit ms."""
    script = subprocess.run(["perf", "script", "-i", trace], capture_output=True, text=True).stdout
    line = re.compile(r"\s(-?\d+)\s+\[\d+\] ([\d.]+):\s+(\S+):\s*(.*)")
    live, calls, done = {}, {}, []
    for text in script.splitlines():
        m = line.search(text)
        if not m:
            continue
        tid, t, event, rest = int(m.group(1)), float(m.group(2)), m.group(3), m.group(4)
        if event == "sched:sched_process_exec":
            name = re.search(r"filename=(\S+)", rest).group(1)
            if os.path.dirname(name) == bin_dir:
                live[int(re.search(r" pid=(\d+)", rest).group(1))] = Process(os.path.basename(name), t)
        elif event == "sched:sched_process_exit":
            pid = int(re.search(r" pid=(\d+)", rest).group(1))
            if pid in live:
                run = live.pop(pid)
                done.append((run.start, run, (t - run.start) * 1000))
        elif event == "sched:sched_switch":
            out = int(re.search(r"prev_pid=(\d+)", rest).group(1))
            into = int(re.search(r"next_pid=(\d+)", rest).group(1))
            if out in live and re.search(r"prev_state=R", rest):
                live[out].preempted_at = t
            if into in live and live[into].preempted_at is not None:
                live[into].waiting += (t - live[into].preempted_at) * 1000
                live[into].preempted_at = None
        elif tid in live and event == "raw_syscalls:sys_enter":
            calls[tid] = (t, int(rest.split()[1]))
        elif tid in live and event == "raw_syscalls:sys_exit" and tid in calls:
            start, number = calls.pop(tid)
            if number == SENDTO:
                live[tid].sends.append((t - start) * 1000)
    return [(run, total) for _, run, total in sorted(done, key=lambda d: d[0])]


def report(pods, rows):
    """Per plugin and command, medians: exec to exit = the longest request + the other requests
    + waiting for a CPU (preempted; while the main thread was in a request it is counted there)
    + the rest (start-up, the plugin's own work, other system calls)."""
    runs, groups = {}, {}
    for run, total in rows:  # in start order: each plugin's ADD, then its DEL
        command = "ADD" if runs.get(run.name, 0) % 2 == 0 else "DEL"
        runs[run.name] = runs.get(run.name, 0) + 1
        longest = max(run.sends, default=0.0)
        others = sum(run.sends) - longest
        groups.setdefault((run.name, command), []).append(
            (total, longest, others, run.waiting, total - longest - others - run.waiting))
    for (name, command), values in sorted(groups.items()):
        med = [statistics.median(v[j] for v in values) for j in range(5)]
        print(f"  {pods:>5} pods  {name:<9} {command}  {med[0]:6.2f} ms = longest request {med[1]:6.2f}"
              f" + other requests {med[2]:5.2f} + no CPU {med[3]:5.2f} + the rest {med[4]:5.2f}  (n={len(values)})")


def main():
    args = sys.argv[1:]
    if os.geteuid() != 0:
        sys.exit("bench-syscalls.py: needs root (namespaces, perf -a)")
    if subprocess.run(["perf", "--version"], capture_output=True).returncode != 0:
        sys.exit("bench-syscalls.py: needs perf (apt-get install -y linux-perf)")
    ours = os.path.abspath(args[0]) if args and not args[0].startswith("--") else "/opt/cni/bin"
    steps = [int(s) for s in option(args, "--pods", "0,1000").split(",")]
    samples = int(option(args, "--samples", "20"))
    for step in steps:
        scratch = tempfile.mkdtemp(prefix="cnit-syscalls-")
        node = B.Node("swift-cni", ours, 60, scratch)
        try:
            node.enter()
            plugins = node.plugins("cnitsc0", True, "10.60.0.0/16")
            trace = os.path.join(scratch, "perf.data")
            probe(node, plugins, [node.pod() for _ in range(step)], samples, trace)
            report(step, processes(trace, ours))
        finally:
            node.close()
            subprocess.run(["rm", "-rf", scratch])


if __name__ == "__main__":
    main()
