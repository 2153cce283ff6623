"""The scale part of Scripts/bench.py: podman's chain ADD and DEL with N pods already attached,
for both implementations, with the kernel's own cost of the same pod setup measured at every
step, so that growth can be split into the kernel's and ours."""
import time

from bench_lib import (alternate, attach, detach, median, netlink_traffic, p90, pod_setup, pod_veth_delete, row,
                       set_pod_links, timed)

# After each probe's DEL the kernel still finishes tearing the pod down (RCU grace periods,
# netfilter destroy work) for some milliseconds. At the steps where the reference runs, its own
# probe (~300 ms) gave ours that pause; at 1,000 pods nothing did, and the next ADD paid for the
# previous DEL. The same pause after every DEL keeps every step under the same conditions.
SETTLE = 0.2


def scale(nodes, steps, reference_max, samples):
    """podman's chain ADD and DEL (direct exec) with N pods already attached and mapped."""
    points = []
    for n in nodes:
        n.scale_plugins = n.plugins("cnitbs0", True, f"10.{n.octet + 2}.0.0/16")
        n.background, n.probes = {}, [n.pod() for _ in range(samples)]
    for step in steps:
        active = [n for n in nodes if n.label == "swift-cni" or step <= reference_max]
        for n in active:
            n.enter()
            while len(n.background) < step:
                i = len(n.background)
                pod = n.pod()
                n.background[i] = (pod, attach(n, n.scale_plugins, i, pod))
        measured = probes(active, samples)
        floor = kernel_floor(nodes[0])
        traffic = {}
        for n in active:
            n.enter()
            probe_pod, result = n.probes[0], {}
            add = netlink_traffic(lambda w: result.setdefault("r", attach(n, n.scale_plugins, 45000, probe_pod, None, w)))
            remove = netlink_traffic(lambda w: detach(n, n.scale_plugins, 45000, probe_pod, result["r"], None, w))
            traffic[n.label] = (add, remove)
        for n in active:
            adds, dels, add_times, del_times = measured[n.label]
            points.append({"implementation": n.label, "pods": step, "add_median_ms": median(adds),
                           "add_p90_ms": p90(adds), "del_median_ms": median(dels), "del_p90_ms": p90(dels),
                           "kernel_setup_ms": floor["setup"], "kernel_setup_steps": floor["steps"],
                           "kernel_delete_ms": floor["delete"], "add_requests": traffic[n.label][0][0],
                           "add_kb_read": traffic[n.label][0][1], "del_requests": traffic[n.label][1][0],
                           "del_kb_read": traffic[n.label][1][1],
                           "add_by_plugin": {name: median(v) for name, v in add_times.items()},
                           "del_by_plugin": {name: median(v) for name, v in del_times.items()}})
            mine = points[-1]
            print(f"    {n.label} at {step}: ADD by plugin "
                  + " ".join(f"{name} {v:.1f}" for name, v in mine["add_by_plugin"].items())
                  + "; DEL " + " ".join(f"{name} {v:.1f}" for name, v in mine["del_by_plugin"].items()), flush=True)
        print(f"    kernel floor at {step}: setup {floor['setup']:.2f} ms ("
              + ", ".join(f"{name} {v:.2f}" for name, v in floor["steps"].items())
              + f"), delete {floor['delete']:.2f} ms", flush=True)
        step_rows(points, step)
    growth_rows(points, quiet_background(nodes[0], samples))
    return points


def probes(active, samples):
    """Each implementation's chain ADD then DEL on each probe pod, taking turns; every DEL is
    followed by the same pause. Returns {label: (adds, dels, ADD by plugin, DEL by plugin)}."""
    measured = {n.label: ([], [], {}, {}) for n in active}
    for k in range(samples):
        def probe(n):
            adds, dels, add_times, del_times = measured[n.label]
            i = 40000 + k
            elapsed, result = timed(attach, n, n.scale_plugins, i, n.probes[k], add_times)
            adds.append(elapsed)
            dels.append(timed(detach, n, n.scale_plugins, i, n.probes[k], result, del_times)[0])
            time.sleep(SETTLE)
        alternate(active, probe)
    return measured


def kernel_floor(node):
    """The kernel's cost of one pod's setup as bridge ADD makes it (pod_setup) and of its
    delete, from this process, at the current number of pods: medians over the probe pods."""
    node.enter()
    setups, deletes = [], []
    for k, pod in enumerate(node.probes):
        setups.append(pod_setup(node, f"cnitf{k}", pod, "cnitbs0", [10, node.octet + 2, 250, 1 + k]))
        deletes.append(pod_veth_delete(node, pod))
        time.sleep(SETTLE)
    return {"setup": median([sum(s.values()) for s in setups]), "delete": median(deletes),
            "steps": {name: median([s[name] for s in setups]) for name in setups[0]}}


def step_rows(points, step):
    here = {p["implementation"]: p for p in points if p["pods"] == step}
    for op in ("add", "del"):
        theirs = here.get("reference", {}).get(f"{op}_median_ms")
        row(f"chain {op.upper()} with {step} pods mapped", here["swift-cni"][f"{op}_median_ms"], theirs)
    row(f"  kernel: bridge ADD's requests for one pod, at {step}", here["swift-cni"]["kernel_setup_ms"], None)
    row(f"  kernel: that pod's veth delete, at {step}", here["swift-cni"]["kernel_delete_ms"], None)
    for op in ("add", "del"):
        mine, theirs = here["swift-cni"], here.get("reference", {})
        row(f"  netlink requests of that chain {op.upper()} at {step}", mine[f"{op}_requests"],
            theirs.get(f"{op}_requests"), unit="req")
        row(f"  KB read from the kernel, {op.upper()} at {step}", mine[f"{op}_kb_read"], theirs.get(f"{op}_kb_read"),
            unit="KB")


def growth_rows(points, quiet):
    """Growth from the first step to the last: ours, the best any implementation making the
    same kernel requests could show (ours at the first step plus only the floor's growth), and
    ours with the floor taken out."""
    ours = [p for p in points if p["implementation"] == "swift-cni"]
    theirs = [p for p in points if p["implementation"] == "reference"]
    first, last = ours[0], ours[-1]
    for op in ("add", "del"):
        def rest(p):
            return sum(v for name, v in p[f"{op}_by_plugin"].items() if name != "bridge")
        ratio = rest(theirs[-1]) / rest(theirs[0]) if len(theirs) > 1 else None
        row(f"portmap+firewall+tuning {op.upper()}: at {last['pods']} / at {first['pods']}", rest(last) / rest(first),
            ratio, unit="x")
    for op, floor in (("add", "kernel_setup_ms"), ("del", "kernel_delete_ms")):
        start, end = first[f"{op}_median_ms"], last[f"{op}_median_ms"]
        reference = theirs[-1][f"{op}_median_ms"] / theirs[0][f"{op}_median_ms"] if len(theirs) > 1 else None
        row(f"chain {op.upper()} at {last['pods']} / at {first['pods']} pods (ref: at {theirs[-1]['pods']})",
            end / start, reference, unit="x", target="ours <= 1.2")
        grown = last[floor] - first[floor]
        row(f"  best possible: only the kernel grows ({grown:+.1f} ms)", (start + grown) / start, None,
            unit="x")
        row("  ours minus the kernel's, last step / first", (end - last[floor]) / (start - first[floor]),
            None, unit="x")
        row(f"  the same, those {last['pods']} pods' eth0 down (no flood)", quiet[op] / start, None, unit="x")


def quiet_background(node, samples):
    """Chain ADD and DEL medians at the last step with every background pod's eth0 down: the
    same plugins, state and nftables maps, minus the kernel's delivery of each new port's
    broadcasts and multicasts to every pod."""
    node.enter()
    pods = [pod for pod, _ in node.background.values()]
    set_pod_links(node, pods, up=False)
    adds, dels = [], []
    for k in range(samples):
        i = 40000 + k
        elapsed, result = timed(attach, node, node.scale_plugins, i, node.probes[k])
        adds.append(elapsed)
        dels.append(timed(detach, node, node.scale_plugins, i, node.probes[k], result)[0])
        time.sleep(SETTLE)
    set_pod_links(node, pods, up=True)
    return {"add": median(adds), "del": median(dels)}
