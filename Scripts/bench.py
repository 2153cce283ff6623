#!/usr/bin/env python3
"""Every benchmark in one run, swift-cni against the Go reference (/usr/lib/cni), printed as
one table (both columns and the ratio per row) and written to DIR/results.json, DIR/table.md
and DIR/scale.png. Benchmarks, not tests.

    sudo Scripts/bench.py OURS_DIR [--quick] [--out DIR]

Each implementation works in a scratch "node" network namespace of its own (so neither's
netfilter state weighs on the other) and the two take turns pod by pod, so machine noise hits
both alike. Scripts/bench.sh installs what this needs and runs it.
"""
import concurrent.futures
import importlib.util
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_lib import (REFERENCE, ROWS, Node, alternate, attach, detach, median, pod_veth,  # noqa: E402
                       pod_veth_delete, row, timed)
from bench_scale import scale  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
def startup(nodes):
    # A file of our own (not a name a planted symlink could take) for hyperfine's report.
    with tempfile.NamedTemporaryFile("r", prefix="cnit-bench-", suffix=".json") as report:
        subprocess.run(["hyperfine", "-N", "--warmup", "50", "--runs", "300", "--export-json", report.name,
                        "--style", "none", "--command-name", "swift-cni", os.path.join(nodes[0].bin_dir, "loopback"),
                        "--command-name", "reference", os.path.join(REFERENCE, "loopback")],
                       env=dict(os.environ, CNI_COMMAND="VERSION"), check=True, stdout=subprocess.DEVNULL)
        results = {r["command"]: r["median"] * 1000 for r in json.load(open(report.name))["results"]}
    row("VERSION start-up", results["swift-cni"], results["reference"], target="")


def bridge(nodes, count):
    """bridge + host-local ADD then DEL per pod, the two implementations taking turns."""
    times = {n.label: {"ADD": [], "DEL": []} for n in nodes}
    for n in nodes:
        n.bridge_plugins = n.plugins("cnitbb0", False, f"10.{n.octet}.0.0/16")
        n.bridge_pods = [n.pod() for _ in range(count)]
    results = {}
    for op in ("ADD", "DEL"):
        for i in range(count):
            def step(n):
                pod = n.bridge_pods[i]
                if op == "ADD":
                    elapsed, results[(n.label, i)] = timed(attach, n, n.bridge_plugins, i, pod)
                else:
                    elapsed, _ = timed(detach, n, n.bridge_plugins, i, pod, results[(n.label, i)])
                times[n.label][op].append(elapsed)
            alternate(nodes, step)
    # The kernel's own cost afterwards, in the same pods: measured between the plugins' DELs,
    # each veth delete's deferred work slowed the next DEL.
    floors = {"create": [], "setup": [], "delete": []}
    node = nodes[0]
    node.enter()
    for i, pod in enumerate(node.bridge_pods):
        address = [10, node.octet, 200 + i // 250, 1 + i % 250]
        created, setup = pod_veth(node, f"cnitk{i}", pod, "cnitbb0", address)
        floors["create"].append(created)
        floors["setup"].append(setup)
        floors["delete"].append(pod_veth_delete(node, pod))
    ours, ref = times["swift-cni"], times["reference"]
    row(f"bridge + host-local ADD ({count} pods, median)", median(ours["ADD"]), median(ref["ADD"]), target="<= 0.33")
    row(f"bridge + host-local DEL ({count} pods, median)", median(ours["DEL"]), median(ref["DEL"]))
    row("kernel: veth create (raw netlink, same pods)", median(floors["create"]), None)
    row("kernel: veth create, bridge port, up, address", median(floors["setup"]), None)
    row("bridge ADD minus that kernel setup", median(ours["ADD"]) - median(floors["setup"]),
        median(ref["ADD"]) - median(floors["setup"]))
    row("kernel: delete of a pod's bridged, addressed veth", median(floors["delete"]), None)
    row("bridge DEL minus the kernel's veth delete", median(ours["DEL"]) - median(floors["delete"]),
        median(ref["DEL"]) - median(floors["delete"]), target="ours <= 2 ms")



def driver(out):
    """Builds the libcni runtime the interop tests use (Tests/InteropTests/driver)."""
    binary = os.path.join(out, "cni-driver")
    source = os.path.join(ROOT, "Tests", "InteropTests", "driver", "main.go")
    env = dict(os.environ, GO111MODULE="off", GOPATH="/usr/share/gocode", GOCACHE=os.path.join(out, "gocache"),
               HOME="/tmp")
    subprocess.run(["go", "build", "-o", binary, source], env=env, check=True)
    return binary


def libcni_chain(nodes, count, binary):
    """podman's default list through libcni, one `cni-driver` run per ADD and DEL."""
    times = {n.label: {"ADD": [], "DEL": []} for n in nodes}
    for n in nodes:
        plugins = n.plugins("cnitbl0", True, f"10.{n.octet + 1}.0.0/16")
        with open(os.path.join(n.confdir, "bench.conflist"), "w") as f:
            json.dump({"cniVersion": "1.0.0", "name": "benchchain", "plugins": plugins}, f)
        n.chain_pods = [n.pod() for _ in range(count)]

    def run(n, command, i):
        ports = [{"hostPort": 20000 + i, "containerPort": 80, "protocol": "tcp"}]
        env = {"NETCONFPATH": n.confdir, "CNI_PATH": n.bin_dir, "CNI_CONTAINERID": f"chain{i}",
               "CNI_CACHE_DIR": n.cache, "CAP_ARGS": json.dumps({"portMappings": ports}),
               "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
        done = subprocess.run([binary, command, "benchchain", f"/run/netns/{n.chain_pods[i]}"], env=env,
                              capture_output=True)
        if done.returncode != 0:
            sys.exit(f"{n.label} libcni {command}: {done.stdout.decode()} {done.stderr.decode()}")

    for op in ("add", "del"):
        for i in range(count):
            alternate(nodes, lambda n: times[n.label][op.upper()].append(timed(run, n, op, i)[0]))
    ours, ref = times["swift-cni"], times["reference"]
    row(f"podman's chain ADD via libcni ({count} pods)", median(ours["ADD"]), median(ref["ADD"]), target="<= 0.15")
    row(f"podman's chain DEL via libcni ({count} pods)", median(ours["DEL"]), median(ref["DEL"]), target="<= 0.2")


def host_local(nodes, scratch, runs):
    """host-local ADD in a /16 with 10,000 reservations already on disk."""
    spec = importlib.util.spec_from_file_location("bench_ipam", os.path.join(ROOT, "Scripts", "bench-ipam.py"))
    ipam = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ipam)
    medians = {}
    for n in nodes:
        data = os.path.join(scratch, n.label + "-ipam")
        ipam.prefill(data, 10000)
        medians[n.label] = ipam.measure(os.path.join(n.bin_dir, "host-local"), data, runs)[0] * 1000
    row("host-local ADD with 10,000 reservations", medians["swift-cni"], medians["reference"])


def parallel(nodes, count, width):
    """`count` bridge + host-local ADDs, `width` at a time: wall time, and no address twice."""
    walls, duplicates = {}, {}
    for n in nodes:
        n.enter()
        plugins = n.plugins("cnitbc0", False, f"10.{n.octet + 3}.0.0/16")
        pods = [n.pod() for _ in range(count)]
        start = time.perf_counter()
        # Threads started after setns share the node's namespace, as do the plugins they run.
        with concurrent.futures.ThreadPoolExecutor(width) as pool:
            results = list(pool.map(lambda i: attach(n, plugins, 50000 + i, pods[i]), range(count)))
        walls[n.label] = (time.perf_counter() - start) * 1000
        addresses = [ip["address"] for r in results for ip in r.get("ips", [])]
        duplicates[n.label] = len(addresses) - len(set(addresses))
        with concurrent.futures.ThreadPoolExecutor(width) as pool:
            list(pool.map(lambda i: detach(n, plugins, 50000 + i, pods[i], results[i]), range(count)))
    row(f"{count} ADDs {width} at a time: wall time", walls["swift-cni"], walls["reference"])
    row(f"{count} ADDs {width} at a time: addresses handed out twice", duplicates["swift-cni"],
        duplicates["reference"], unit="", target="0")


def peak_rss(nodes, runs):
    """Peak resident set of one bridge ADD process, median of runs. GNU time forks it from a
    small process: a child forked from this interpreter would count the interpreter's pages."""
    peaks = {}
    for n in nodes:
        n.enter()
        plugin = n.plugins("cnitbr0", False, f"10.{n.octet + 4}.0.0/16")[0]
        sizes = []
        for i in range(runs):
            pod = n.pod()
            config = json.dumps(dict(plugin, cniVersion="1.0.0", name="bench")).encode()
            env = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": f"rss{i}", "CNI_NETNS": f"/run/netns/{pod}",
                   "CNI_IFNAME": "eth0", "CNI_PATH": n.bin_dir, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
            with tempfile.NamedTemporaryFile("r", prefix="cnit-bench-rss-") as report:
                done = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name,
                                       os.path.join(n.bin_dir, "bridge")], input=config, env=env, capture_output=True)
                if done.returncode != 0:
                    sys.exit(f"{n.label} bridge ADD failed while measuring its memory: {done.stdout.decode()}")
                sizes.append(int(report.read().split()[-1]) / 1024)
        peaks[n.label] = median(sizes)
    row("peak RSS of a bridge ADD", peaks["swift-cni"], peaks["reference"], unit="MB", target="<= 1.0")


def installed_size(nodes):
    """Bytes on disk of every plugin installed, a hard-linked file counted once; `cni`, the
    operator's tool that the reference has no counterpart of, on a row of its own."""
    sizes, tool = {}, 0
    for n in nodes:
        seen, total = set(), 0
        for entry in os.scandir(n.bin_dir):
            info = entry.stat(follow_symlinks=False)
            if entry.name == "cni":
                tool = info.st_size / 1e6
            elif entry.is_file(follow_symlinks=False) and info.st_ino not in seen:
                seen.add(info.st_ino)
                total += info.st_size
        sizes[n.label] = total / 1e6
    row("installed size of the plugins (hard links once)", sizes["swift-cni"], sizes["reference"], unit="MB")
    row("  and of `cni`, the operator's tool", tool, None, unit="MB")


def machine():
    model = "unknown CPU"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    return f"{os.cpu_count()}-core {model}, Linux {platform.release()}"


def plot(points, out, title):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (apt-get install python3-matplotlib): no plot", file=sys.stderr)
        return
    figure, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for axis, op in zip(axes, ("add", "del")):
        for color, label in zip(("tab:green", "tab:blue"), ("swift-cni", "reference")):
            mine = [p for p in points if p["implementation"] == label]
            pods = [p["pods"] for p in mine]
            axis.plot(pods, [p[f"{op}_median_ms"] for p in mine], marker="o", color=color, label=f"{label} median")
            axis.plot(pods, [p[f"{op}_p90_ms"] for p in mine], linestyle="--", color=color, label=f"{label} p90")
        axis.set_title(f"podman's chain {op.upper()}")
        axis.set_xlabel("pods already attached, each with a mapped port")
        axis.set_ylabel("ms per pod")
        axis.set_ylim(bottom=0)
        axis.legend()
    figure.suptitle(title, fontsize=9)
    figure.tight_layout()
    figure.savefig(os.path.join(out, "scale.png"), dpi=100)


def report(out, title, points):
    with open(os.path.join(out, "results.json"), "w") as f:
        json.dump({"title": title, "rows": ROWS, "scale": points}, f, indent=1)
    lines = [f"{title}", "", "| measure | swift-cni | reference | unit | ratio | target |", "|---|---|---|---|---|---|"]
    for r in ROWS:
        reference = "-" if r["reference"] is None else f"{r['reference']:.2f}"
        ratio = "-" if r["reference"] in (None, 0) else f"{r['ratio']:.2f}"
        lines.append(f"| {r['measure']} | {r['swift-cni']:.2f} | {reference} | {r['unit']} | {ratio} | {r['target']} |")
    with open(os.path.join(out, "table.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print(f"\nwritten: {out}/table.md, results.json, scale.png")


def main():
    args = sys.argv[1:]
    quick = "--quick" in args
    out = os.path.abspath(args[args.index("--out") + 1]) if "--out" in args else os.path.join(ROOT, ".build", "bench")
    ours = os.path.abspath(next(a for a in args if not a.startswith("--") and a != out))
    os.makedirs(out, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="cnit-bench-")
    title = f"swift-cni against the Go reference, {time.strftime('%Y-%m-%d')}, {machine()}"
    pods, samples = (40, 8) if quick else (200, 20)
    steps, reference_max = ([0, 50, 150], 150) if quick else ([0, 100, 300, 1000], 300)
    nodes = []
    try:
        binary = driver(out)
        nodes = [Node("swift-cni", ours, 60, scratch), Node("reference", REFERENCE, 70, scratch)]
        print(title)
        print(f"  {'measure':<52} {'swift-cni':>9} {'reference':>9} {'':<3} {'ratio':>6}  target", flush=True)
        startup(nodes)
        bridge(nodes, pods)
        libcni_chain(nodes, pods // 2, binary)
        host_local(nodes, scratch, 50 if quick else 200)
        parallel(nodes, pods, 20)
        peak_rss(nodes, 10 if quick else 30)
        installed_size(nodes)
        points = scale(nodes, steps, reference_max, samples)
        plot(points, out, title)
        report(out, title, points)
    finally:
        for n in nodes:
            n.close()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
