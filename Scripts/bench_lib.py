"""Shared pieces of the benchmarks: per-implementation node namespaces entered with setns, plugin
invocation as a runtime does it, statistics, and the kernel's own cost of a veth (raw
rtnetlink, no process start around it)."""
import ctypes
import json
import os
import socket
import statistics
import struct
import subprocess
import sys
import time

REFERENCE = "/usr/lib/cni"
ROWS = []  # every row() of the run, for the table and results.json

LIBC = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000


class Node:
    """One implementation's scratch node namespace, its bridges' subnets and its state."""

    def __init__(self, label, bin_dir, octet, scratch):
        self.label, self.bin_dir, self.octet = label, bin_dir, octet
        self.name = f"cnit-bench-{label[:4]}-{os.getpid()}"
        self.data = os.path.join(scratch, label)
        self.cache = os.path.join(scratch, label + "-cache")
        self.confdir = os.path.join(scratch, label + "-net.d")
        os.makedirs(self.confdir)
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True)
        self.fd = os.open(f"/run/netns/{self.name}", os.O_RDONLY)
        self.pods = []

    def enter(self):
        """Moves this process (and so every plugin it starts) into the node's namespace."""
        if LIBC.setns(self.fd, CLONE_NEWNET) != 0:
            sys.exit(f"setns: errno {ctypes.get_errno()}")

    def pod(self):
        name = f"{self.name}-p{len(self.pods)}"
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.pods.append(name)
        return name

    def plugins(self, bridge, chain, subnet):
        listed = [{"type": "bridge", "bridge": bridge, "isGateway": True, "ipMasq": chain,
                   "ipam": {"type": "host-local", "subnet": subnet, "dataDir": self.data}}]
        if chain:
            listed += [{"type": "portmap", "capabilities": {"portMappings": True}}, {"type": "firewall"},
                       {"type": "tuning"}]
        return listed

    def close(self):
        for pod in self.pods:
            subprocess.run(["ip", "netns", "delete", pod], capture_output=True)
        os.close(self.fd)
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True)


def row(measure, ours, reference, unit="ms", target=""):
    ratio = ours / reference if reference else float("nan")
    ROWS.append({"measure": measure, "swift-cni": ours, "reference": reference, "unit": unit, "ratio": ratio,
                 "target": target})
    shown = "-" if reference is None else f"{reference:.2f}"
    print(f"  {measure:<52} {ours:>9.2f} {shown:>9} {unit:<3} {ratio if reference else float('nan'):>6.2f}  {target}",
          flush=True)


def invoke(node, plugin, command, i, pod, previous, network="bench", wrapper=()):
    config = dict(plugin, cniVersion="1.0.0", name=network)
    if plugin["type"] == "portmap":
        config["runtimeConfig"] = {"portMappings": [{"hostPort": 10000 + i, "containerPort": 80, "protocol": "tcp"}]}
    if previous is not None:
        config["prevResult"] = previous
    env = {"CNI_COMMAND": command, "CNI_CONTAINERID": f"bench{i}", "CNI_NETNS": f"/run/netns/{pod}",
           "CNI_IFNAME": "eth0", "CNI_PATH": node.bin_dir, "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    done = subprocess.run(list(wrapper) + [os.path.join(node.bin_dir, plugin["type"])],
                          input=json.dumps(config).encode(), env=env, capture_output=True)
    if done.returncode != 0:
        sys.exit(f"{node.label} {plugin['type']} {command} failed: {done.stdout.decode()} {done.stderr.decode()}")
    return json.loads(done.stdout) if command == "ADD" else None


def attach(node, plugins, i, pod, times=None, wrapper=()):
    """Runs the list's ADDs in order; `times` collects each plugin's milliseconds."""
    previous = None
    for plugin in plugins:
        start = time.perf_counter()
        previous = invoke(node, plugin, "ADD", i, pod, previous, wrapper=wrapper)
        if times is not None:
            times.setdefault(plugin["type"], []).append((time.perf_counter() - start) * 1000)
    return previous


def detach(node, plugins, i, pod, result, times=None, wrapper=()):
    for plugin in reversed(plugins):
        start = time.perf_counter()
        invoke(node, plugin, "DEL", i, pod, result, wrapper=wrapper)
        if times is not None:
            times.setdefault(plugin["type"], []).append((time.perf_counter() - start) * 1000)


def timed(function, *args):
    start = time.perf_counter()
    value = function(*args)
    return (time.perf_counter() - start) * 1000, value


def median(values):
    return statistics.median(values) if values else float("nan")


def p90(values):
    ordered = sorted(values)
    return ordered[int(len(ordered) * 0.9)] if ordered else float("nan")


def alternate(nodes, work):
    """Runs work(node) for each node in turn, inside its namespace; returns {label: value}."""
    out = {}
    for node in nodes:
        node.enter()
        out[node.label] = work(node)
    return out


def _attribute(kind, payload):
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _request(message_type, flags, body):
    """Sends one rtnetlink request from the calling thread's namespace and returns its errno."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as s:
        s.bind((0, 0))
        s.send(struct.pack("=IHHII", 16 + len(body), message_type, 0x1 | 0x4 | flags, 1, 0) + body)
        reply = s.recv(65536)
        return -struct.unpack_from("=i", reply, 16)[0]


def _enter(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if LIBC.setns(fd, CLONE_NEWNET) != 0:
            sys.exit(f"setns {path}: errno {ctypes.get_errno()}")
    finally:
        os.close(fd)


def _link_up(index, master=0):
    body = struct.pack("=BxHiII", 0, 0, index, 1, 1)  # IFF_UP in flags and change
    if master:
        body += _attribute(10, struct.pack("=I", master))  # IFLA_MASTER
    return _request(16, 0, body)


def set_pod_links(node, pods, up):
    """Sets each pod's `eth0` up or down: a down one has no carrier on its bridge port, so the
    bridge floods nothing to it."""
    for pod in pods:
        _enter(f"/run/netns/{pod}")
        body = struct.pack("=BxHiII", 0, 0, socket.if_nametoindex("eth0"), 1 if up else 0, 1)
        errno = _request(16, 0, body)
        if errno:
            sys.exit(f"link set {'up' if up else 'down'} in {pod}: errno {errno}")
    node.enter()


def pod_veth(node, name, pod, bridge, octets):
    """A pod's veth as bridge ADD leaves it: host end up in `bridge`, `eth0` up with an address
    in the pod. Returns the milliseconds of the create alone and of the whole setup."""
    start = time.perf_counter()
    created = veth_create(name, pod)
    errno = _link_up(socket.if_nametoindex(name), socket.if_nametoindex(bridge))
    _enter(f"/run/netns/{pod}")
    index = socket.if_nametoindex("eth0")
    errno = errno or _link_up(index)
    address = bytes(octets)
    body = struct.pack("=BBBBI", 2, 16, 0, 0, index) + _attribute(2, address) + _attribute(1, address)
    errno = errno or _request(20, 0x400 | 0x200, body)  # RTM_NEWADDR
    node.enter()
    total = (time.perf_counter() - start) * 1000
    if errno:
        sys.exit(f"pod veth setup: errno {errno}")
    return created, total


def pod_setup(node, name, pod, bridge, octets):
    """Every kernel request bridge ADD makes for a pod, from this process (no exec, no JSON,
    no IPAM): veth whose host end joins `bridge` up in the creating request, host
    `accept_ra=0`, pod `accept_dad=0` and `arp_notify=1`, `eth0` up, its address and default
    route, and the read of the host end that waits for the port. Returns {step: ms}."""
    steps, start = {}, time.perf_counter()

    def lap(step):
        nonlocal start
        now = time.perf_counter()
        steps[step] = (now - start) * 1000
        start = now

    fd = os.open(f"/run/netns/{pod}", os.O_RDONLY)
    try:
        ifinfo = struct.pack("=BxHiII", 0, 0, 0, 0, 0)
        peer = ifinfo + _attribute(3, b"eth0\0") + _attribute(28, struct.pack("=I", fd))
        info = _attribute(1, b"veth\0") + _attribute(2, _attribute(1, peer))
        master = _attribute(10, struct.pack("=I", socket.if_nametoindex(bridge)))
        body = struct.pack("=BxHiII", 0, 0, 0, 1, 1) + master + _attribute(3, name.encode() + b"\0")
        errno = _request(16, 0x400 | 0x200, body + _attribute(18, info))  # up, master, CREATE|EXCL
    finally:
        os.close(fd)
    lap("veth")
    with open(f"/proc/sys/net/ipv6/conf/{name}/accept_ra", "w") as f:
        f.write("0")
    lap("host sysctl")
    _enter(f"/run/netns/{pod}")
    with open("/proc/sys/net/ipv6/conf/eth0/accept_dad", "w") as f:
        f.write("0")
    lap("pod sysctl")
    index = socket.if_nametoindex("eth0")
    conf = _attribute(1, _attribute(22, struct.pack("=I", 1)))  # IFLA_INET_CONF { ARP_NOTIFY 1 }
    errno = errno or _request(16, 0, struct.pack("=BxHiII", 0, 0, index, 0, 0) + _attribute(26, _attribute(2, conf)))
    errno = errno or _link_up(index)
    lap("pod up")
    address = bytes(octets)
    body = struct.pack("=BBBBI", 2, 16, 0, 0, index) + _attribute(2, address) + _attribute(1, address)
    errno = errno or _request(20, 0x400 | 0x200, body)  # RTM_NEWADDR
    gateway = bytes(octets[:2] + [0, 1])
    route = struct.pack("=BBBBBBBBI", 2, 0, 0, 0, 254, 3, 0, 1, 0)  # main table, boot, universe, unicast
    errno = errno or _request(24, 0x400 | 0x200, route + _attribute(5, gateway) + _attribute(4, struct.pack("=i", index)))
    lap("pod address, route")
    node.enter()
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as s:
        s.bind((0, 0))
        body = struct.pack("=BxHiII", 0, 0, socket.if_nametoindex(name), 0, 0)
        s.send(struct.pack("=IHHII", 16 + len(body), 18, 0x1, 1, 0) + body)  # RTM_GETLINK
        s.recv(65536)
    lap("port read")
    if errno:
        sys.exit(f"pod setup: errno {errno}")
    return steps


def pod_veth_delete(node, pod):
    """RTM_DELLINK of the pod's `eth0` from inside the pod, as bridge DEL sends it."""
    _enter(f"/run/netns/{pod}")
    elapsed = veth_delete("eth0")
    node.enter()
    return elapsed


def veth_create(name, pod):
    """RTM_NEWLINK of a veth whose peer `eth0` lands in the pod's namespace; milliseconds."""
    fd = os.open(f"/run/netns/{pod}", os.O_RDONLY)
    try:
        ifinfo = struct.pack("=BxHiII", 0, 0, 0, 0, 0)
        peer = ifinfo + _attribute(3, b"eth0\0") + _attribute(28, struct.pack("=I", fd))  # IFNAME, NET_NS_FD
        info = _attribute(1, b"veth\0") + _attribute(2, _attribute(1, peer))  # KIND, DATA { VETH_INFO_PEER }
        body = ifinfo + _attribute(3, name.encode() + b"\0") + _attribute(18, info)  # IFLA_LINKINFO
        start = time.perf_counter()
        errno = _request(16, 0x400 | 0x200, body)  # RTM_NEWLINK, CREATE|EXCL
        elapsed = (time.perf_counter() - start) * 1000
    finally:
        os.close(fd)
    if errno:
        sys.exit(f"veth create: errno {errno}")
    return elapsed


def veth_delete(name):
    index = socket.if_nametoindex(name)  # in this namespace (sysfs shows the one it was mounted in)
    start = time.perf_counter()
    errno = _request(17, 0, struct.pack("=BxHiII", 0, 0, index, 0, 0))  # RTM_DELLINK
    if errno:
        sys.exit(f"veth delete: errno {errno}")
    return (time.perf_counter() - start) * 1000


def netlink_traffic(run):
    """Runs `run(wrapper)` with every plugin under strace and returns (requests sent, KB read):
    what a plugin asks the kernel and what it gets back, whatever the kernel's own cost."""
    import re
    import tempfile
    with tempfile.NamedTemporaryFile("r", prefix="cnit-bench-strace-") as log:
        run(["strace", "-f", "-qq", "-A", "-e", "trace=sendto,sendmsg,recvfrom,recvmsg", "-o", log.name])
        requests, received = 0, 0
        for line in log:
            if re.search(r"\b(sendto|sendmsg)\(", line):
                requests += 1
            found = re.search(r"\b(recvfrom|recvmsg)\(.*\)\s+=\s+(\d+)", line)
            if found:
                received += int(found.group(2))
    return requests, received / 1024
