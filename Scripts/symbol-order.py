"""Records which functions and data of the multi-call binary a pod's plugins touch, for lld's
--symbol-ordering-file (Scripts/symbol-order.sh drives it; Scripts/install.sh links with the list).

  calls  BINARY ORDER   every function a runtime's calls execute, under callgrind, first use first
  faults BINARY ORDER   appends what still faults outside the listed symbols when the binary,
                        linked with ORDER, runs for real (perf page-faults), and prints how many

Why: the kernel maps a file-backed page fault's whole 64 KB window. Code spread over the 8 MB
text touches a window per fault; the same code packed together touches a few. BINARY must have
its symbol table (the unstripped release build)."""
import bisect
import collections
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_lib  # noqa: E402


def run(node, wrapper, config, command, pod, ifname="eth0"):
    """One plugin call as a runtime makes it; returns its parsed stdout for ADD."""
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": "order0", "CNI_NETNS": f"/run/netns/{pod}",
           "CNI_IFNAME": ifname, "CNI_PATH": node.bin_dir, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    done = subprocess.run([wrapper, os.path.join(node.bin_dir, config["type"])],
                          input=json.dumps(config).encode(), env=env, capture_output=True)
    if done.returncode != 0:
        sys.exit(f"{config['type']} {command} failed: {done.stdout.decode()} {done.stderr.decode()}")
    return json.loads(done.stdout) if command == "ADD" else None


def workload(node, wrapper):
    """podman's chain and containerd's loopback through ADD, CHECK and DEL; then the plain bridge
    the benchmarks measure, VERSION and STATUS."""
    node.enter()
    pod = node.pod()
    chain = node.plugins("cnitbr0", True, "10.250.0.0/16")
    configs = []
    previous = None
    for plugin in chain:
        config = dict(plugin, cniVersion="1.0.0", name="order")
        if plugin["type"] == "portmap":
            config["runtimeConfig"] = {"portMappings": [{"hostPort": 10080, "containerPort": 80, "protocol": "tcp"}]}
        configs.append(config)
        if previous is not None:
            config = dict(config, prevResult=previous)
        previous = run(node, wrapper, config, "ADD", pod)
    loopback = {"cniVersion": "1.0.0", "name": "cni-loopback", "type": "loopback"}
    run(node, wrapper, loopback, "ADD", pod, ifname="lo")
    for command in ("CHECK", "DEL"):
        for config in configs if command == "CHECK" else reversed(configs):
            run(node, wrapper, dict(config, prevResult=previous), command, pod)
    run(node, wrapper, loopback, "DEL", pod, ifname="lo")
    plain = dict(node.plugins("cnitbr1", False, "10.251.0.0/16")[0], cniVersion="1.1.0", name="plain")
    run(node, wrapper, plain, "ADD", pod)
    run(node, wrapper, plain, "DEL", pod)
    run(node, wrapper, plain, "VERSION", pod)
    run(node, wrapper, plain, "STATUS", pod)


def symbols(binary):
    """(address, size, name) of every sized symbol, and how often each name is defined: a name
    defined twice (a local value witness in several modules) would move the wrong section."""
    listed = subprocess.run(["nm", "-S", "--defined-only", binary], capture_output=True, text=True, check=True)
    table, counts = [], collections.Counter()
    for line in listed.stdout.splitlines():
        fields = line.split(None, 3)
        if len(fields) == 4:
            counts[fields[3]] += 1
            table.append((int(fields[0], 16), int(fields[1], 16), fields[3]))
        elif len(fields) == 3:
            counts[fields[2]] += 1
    table.sort()
    return table, counts


def with_node(binary, body):
    scratch = tempfile.mkdtemp(prefix="cnit-order-")
    bin_dir = os.path.join(scratch, "bin")
    os.makedirs(bin_dir)
    # valgrind cannot read this toolchain's DWARF; the symbol table is all either tool needs.
    subprocess.run(["strip", "--strip-debug", "-o", os.path.join(bin_dir, "cni-plugins"), binary], check=True)
    for name in ("bridge", "host-local", "portmap", "firewall", "tuning", "loopback"):
        os.link(os.path.join(bin_dir, "cni-plugins"), os.path.join(bin_dir, name))
    node = bench_lib.Node("order", bin_dir, 250, scratch)
    try:
        return body(node, scratch)
    finally:
        node.close()
        shutil.rmtree(scratch)


def wrapper_script(scratch, line):
    path = os.path.join(scratch, "wrap")
    with open(path, "w") as script:
        script.write("#!/bin/sh\n" + line + "\n")
    os.chmod(path, 0o755)
    return path


def calls(binary, order):
    def body(node, scratch):
        out = os.path.join(scratch, "cg")
        os.makedirs(out)
        wrap = wrapper_script(scratch, "exec valgrind -q --tool=callgrind --trace-children=yes --demangle=no "
                              f"--callgrind-out-file={out}/cg.$$.%p \"$@\"")
        workload(node, wrap)
        names, seen = [], set()
        for path in sorted(glob.glob(out + "/cg.*"), key=os.path.getmtime):
            for line in open(path):
                if line.startswith(("fn=(", "cfn=(")) and ") " in line:
                    name = line.split(") ", 1)[1].strip()
                    if name not in seen:
                        seen.add(name)
                        names.append(name)
        return names

    _, counts = symbols(binary)
    names = [n for n in with_node(binary, body) if counts[n] == 1]
    write(order, names)
    print(len(names))


def faults(binary, order):
    table, counts = symbols(binary)
    starts = [entry[0] for entry in table]
    listed = [line.strip() for line in open(order) if line.strip() and not line.startswith("#")]
    known = set(listed)

    def body(node, scratch):
        wrap = wrapper_script(scratch, f"exec perf record -q -e page-faults -c 1 -d -o {scratch}/pf.$$ -- \"$@\"")
        workload(node, wrap)
        addresses = []
        for path in sorted(glob.glob(scratch + "/pf.*"), key=os.path.getmtime):
            text = subprocess.run(["perf", "script", "-i", path, "-F", "addr"], capture_output=True, text=True)
            addresses += [int(line.split()[0], 16) for line in text.stdout.splitlines() if line.strip()]
        return addresses

    added = []
    for address in with_node(binary, body):
        index = bisect.bisect_right(starts, address) - 1
        if index < 0:
            continue
        start, size, name = table[index]
        if start <= address < start + size and counts[name] == 1 and name not in known:
            known.add(name)
            added.append(name)
    write(order, listed + added)
    print(len(added))


def write(order, names):
    with open(order + ".new", "w") as out:
        out.write("# Generated by Scripts/symbol-order.sh: what a pod's plugins touch, first use first.\n")
        out.write("".join(name + "\n" for name in names))
    os.replace(order + ".new", order)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("calls", "faults"):
        sys.exit(__doc__)
    (calls if sys.argv[1] == "calls" else faults)(sys.argv[2], sys.argv[3])
