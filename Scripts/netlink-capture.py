#!/usr/bin/env python3
"""Captures the netlink requests a command sends, as annotated hex for golden-byte tests.

    Scripts/netlink-capture.py [--all] -- ip link add cnit0 type veth peer name cnit1

Runs the command under `strace -e trace=sendmsg -e write=all` and prints each request
message, one line per header, struct or attribute, with the sequence number rewritten to 1
(the tests inject sequence 1, so fixtures need no masking). Without --all only the last
request is printed (iproute2 often sends lookups first). Test helper, never used by plugins.
"""
import re
import struct
import subprocess
import sys

FAMILY_HEADER = {  # message type -> (name, size of the family header)
    16: ("RTM_NEWLINK", 16), 17: ("RTM_DELLINK", 16), 18: ("RTM_GETLINK", 16), 19: ("RTM_SETLINK", 16),
    20: ("RTM_NEWADDR", 8), 21: ("RTM_DELADDR", 8), 22: ("RTM_GETADDR", 8),
    24: ("RTM_NEWROUTE", 12), 25: ("RTM_DELROUTE", 12), 26: ("RTM_GETROUTE", 12),
    28: ("RTM_NEWNEIGH", 12), 29: ("RTM_DELNEIGH", 12), 30: ("RTM_GETNEIGH", 12),
    32: ("RTM_NEWRULE", 12), 33: ("RTM_DELRULE", 12), 34: ("RTM_GETRULE", 12),
    36: ("RTM_NEWQDISC", 20), 37: ("RTM_DELQDISC", 20), 38: ("RTM_GETQDISC", 20),
    44: ("RTM_NEWTFILTER", 20), 45: ("RTM_DELTFILTER", 20), 46: ("RTM_GETTFILTER", 20),
}
HEADER_NAME = {16: "ifinfomsg", 8: "ifaddrmsg", 12: "rtmsg/ndmsg/fib_rule_hdr", 20: "tcmsg"}


def capture(argv):
    proc = subprocess.run(["strace", "-f", "-qq", "-e", "trace=sendmsg", "-e", "write=all", "-e", "signal=none"] + argv,
                          stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    buffers, current = [], None
    for line in proc.stderr.splitlines():
        if "sendmsg(" in line:
            current = bytearray()
            buffers.append(current)
            continue
        m = re.match(r"\s*\|\s+[0-9a-f]{5}\s+((?:[0-9a-f]{2}\s+){1,16})", line)
        if m and current is not None:
            current.extend(bytes.fromhex(m.group(1).replace(" ", "")))
    return buffers


def hexs(b):
    return " ".join(f"{x:02x}" for x in b)


def attrs(data, depth, out):
    i = 0
    while i + 4 <= len(data):
        length, kind = struct.unpack_from("<HH", data, i)
        if length < 4 or i + length > len(data):
            out.append("    " * depth + hexs(data[i:]) + "  // (malformed)")
            return
        payload = data[i + 4:i + length]
        padded = data[i:i + ((length + 3) & ~3)]
        nested = kind & 0x8000 or (len(payload) >= 4 and looks_nested(payload))
        flags = " NLA_F_NESTED" if kind & 0x8000 else ""
        if nested:
            out.append("    " * depth + hexs(data[i:i + 4]) + f"  // attr {kind & 0x3fff}{flags}, len {length}, nested")
            attrs(bytes(payload), depth + 1, out)
        else:
            text = ""
            if payload and payload[-1] == 0 and all(32 <= c < 127 for c in payload[:-1]) and len(payload) > 1:
                text = f' "{payload[:-1].decode()}"'
            out.append("    " * depth + hexs(padded) + f"  // attr {kind & 0x3fff}{flags}, len {length}{text}")
        i += (length + 3) & ~3


def looks_nested(payload):
    i = 0
    while i + 4 <= len(payload):
        length, _ = struct.unpack_from("<HH", payload, i)
        if length < 4 or i + length > len(payload):
            return False
        i += (length + 3) & ~3
    return i == len(payload) and len(payload) >= 8


def annotate(buf):
    out = []
    i = 0
    while i + 16 <= len(buf):
        length, kind, flags, _seq, pid = struct.unpack_from("<IHHII", buf, i)
        msg = bytearray(buf[i:i + length])
        struct.pack_into("<I", msg, 8, 1)
        name, size = FAMILY_HEADER.get(kind, (f"type {kind}", 0))
        out.append(hexs(msg[:16]) + f"  // nlmsghdr: len {length}, {name}, flags 0x{flags:x}, seq 1")
        if size:
            out.append(hexs(msg[16:16 + size]) + f"  // {HEADER_NAME[size]}")
            attrs(bytes(msg[16 + size:]), 0, out)
        i += (length + 3) & ~3
    return out


def main():
    args = sys.argv[1:]
    everything = "--all" in args
    if "--" in args:
        args = args[args.index("--") + 1:]
    buffers = capture(args)
    if not everything:
        buffers = buffers[-1:]
    for buf in buffers:
        print("\n".join(annotate(buf)))
        print()


if __name__ == "__main__":
    main()
