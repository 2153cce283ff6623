#!/usr/bin/python3
"""A tiny CRI v1 client: drives a runtime's RuntimeService over gRPC the way kubelet does.

The stubs are generated at run time from api.proto (next to this file) with grpc_tools.protoc,
into --gen-dir or $CRI_CLIENT_GEN_DIR (default: <repo>/.build/cri-stubs), so nothing generated is
kept in the repository. Every subcommand prints the reply as JSON on stdout; a gRPC error goes to
stderr and makes the exit status 1.

  cri_client.py --socket /path/containerd.sock version
  cri_client.py --socket S update-config --pod-cidr 10.73.0.0/24
  cri_client.py --socket S update-config --pod-cidr 10.244.1.0/24,fd00:10:244:1::/64   (dual stack)
  cri_client.py --socket S run --name web --namespace default --uid U --port 30080:80/tcp \
      --ingress 10M --egress 10M
  cri_client.py --socket S status ID      (verbose: "info" values are parsed JSON)
  cri_client.py --socket S stop ID | remove ID | list | runtime-status
"""
import argparse
import fcntl
import importlib
import json
import os
import sys
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO = os.path.join(HERE, "api.proto")
DEFAULT_GEN = os.path.join(HERE, "..", "..", "..", ".build", "cri-stubs")


def load_stubs(gen_dir):
    """Generates api_pb2*.py when missing or older than api.proto, then imports them."""
    os.makedirs(gen_dir, exist_ok=True)
    target = os.path.join(gen_dir, "api_pb2_grpc.py")
    # A lock, so two clients started at once never import a half-written module.
    with open(os.path.join(gen_dir, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.exists(target) or os.path.getmtime(target) < os.path.getmtime(PROTO):
            from grpc_tools import protoc
            status = protoc.main(["protoc", "-I" + HERE, "--python_out=" + gen_dir,
                                  "--grpc_python_out=" + gen_dir, PROTO])
            if status != 0:
                sys.exit("protoc failed on %s (status %d)" % (PROTO, status))
    sys.path.insert(0, gen_dir)
    return importlib.import_module("api_pb2"), importlib.import_module("api_pb2_grpc")


def to_json(message):
    from google.protobuf import json_format
    # Defaults are printed too: state SANDBOX_READY is 0, and an empty list should read "items": [].
    try:
        return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                         including_default_value_fields=True)
    except TypeError:  # protobuf >= 5 renamed the option
        return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                         always_print_fields_with_no_presence=True)


def parse_port(pb, text):
    """[HOST_IP:]HOST:CONTAINER[/tcp|udp|sctp] -> PortMapping."""
    spec, _, proto = text.partition("/")
    parts = spec.rsplit(":", 2)
    if len(parts) < 2:
        raise argparse.ArgumentTypeError("port must be [HOST_IP:]HOST:CONTAINER[/PROTO]: " + text)
    host_ip = parts[0] if len(parts) == 3 else ""
    protocol = {"": pb.TCP, "tcp": pb.TCP, "udp": pb.UDP, "sctp": pb.SCTP}[proto.lower()]
    return pb.PortMapping(protocol=protocol, host_port=int(parts[-2]), container_port=int(parts[-1]),
                          host_ip=host_ip)


def pairs(values):
    return dict(v.split("=", 1) for v in values or [])


def sandbox_config(pb, args):
    """The PodSandboxConfig kubelet builds for a pod (kuberuntime_sandbox.go), minus what a
    sandbox without containers ignores."""
    uid = args.uid or str(uuid.uuid4())
    annotations = pairs(args.annotation)
    # kubelet passes pod annotations through untouched; the runtime turns these two into the
    # CNI "bandwidth" capability.
    if args.ingress:
        annotations["kubernetes.io/ingress-bandwidth"] = args.ingress
    if args.egress:
        annotations["kubernetes.io/egress-bandwidth"] = args.egress
    labels = {"io.kubernetes.pod.name": args.name, "io.kubernetes.pod.namespace": args.namespace,
              "io.kubernetes.pod.uid": uid}
    labels.update(pairs(args.label))
    security = pb.LinuxSandboxSecurityContext(
        namespace_options=pb.NamespaceOption(network=pb.POD, pid=pb.CONTAINER, ipc=pb.POD))
    linux = pb.LinuxPodSandboxConfig(security_context=security, cgroup_parent=args.cgroup_parent or "")
    dns = pb.DNSConfig(servers=args.dns_server or [], searches=args.dns_search or [],
                       options=["ndots:5"] if args.dns_server else [])
    return pb.PodSandboxConfig(
        metadata=pb.PodSandboxMetadata(name=args.name, uid=uid, namespace=args.namespace,
                                       attempt=args.attempt),
        hostname=args.hostname or args.name,
        log_directory=args.log_directory or "",
        dns_config=dns,
        port_mappings=[parse_port(pb, p) for p in args.port or []],
        labels=labels, annotations=annotations, linux=linux)


def call(pb, stub, args):
    timeout = args.timeout
    if args.command == "version":
        return stub.Version(pb.VersionRequest(version="v1"), timeout=timeout)
    if args.command == "runtime-status":
        return stub.Status(pb.StatusRequest(verbose=False), timeout=timeout)
    if args.command == "update-config":
        config = pb.RuntimeConfig(network_config=pb.NetworkConfig(pod_cidr=args.pod_cidr))
        return stub.UpdateRuntimeConfig(pb.UpdateRuntimeConfigRequest(runtime_config=config), timeout=timeout)
    if args.command == "run":
        request = pb.RunPodSandboxRequest(config=sandbox_config(pb, args), runtime_handler=args.runtime_handler)
        return stub.RunPodSandbox(request, timeout=timeout)
    if args.command == "status":
        request = pb.PodSandboxStatusRequest(pod_sandbox_id=args.id, verbose=not args.brief)
        return stub.PodSandboxStatus(request, timeout=timeout)
    if args.command == "stop":
        return stub.StopPodSandbox(pb.StopPodSandboxRequest(pod_sandbox_id=args.id), timeout=timeout)
    if args.command == "remove":
        return stub.RemovePodSandbox(pb.RemovePodSandboxRequest(pod_sandbox_id=args.id), timeout=timeout)
    if args.command == "list":
        return stub.ListPodSandbox(pb.ListPodSandboxRequest(), timeout=timeout)
    raise SystemExit("unknown command " + args.command)


def parser():
    p = argparse.ArgumentParser(description="CRI v1 RuntimeService client")
    p.add_argument("--socket", required=True, help="the runtime's unix socket path")
    p.add_argument("--gen-dir", default=os.environ.get("CRI_CLIENT_GEN_DIR", DEFAULT_GEN),
                   help="where generated stubs are kept")
    p.add_argument("--timeout", type=float, default=120, help="seconds per call")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("version")
    sub.add_parser("runtime-status")
    sub.add_parser("list")
    update = sub.add_parser("update-config")
    update.add_argument("--pod-cidr", required=True,
                        help="the node's pod CIDR; comma-separated for dual stack, as kubelet sends it")
    run = sub.add_parser("run")
    run.add_argument("--name", required=True)
    run.add_argument("--namespace", default="default")
    run.add_argument("--uid", help="pod UID (default: a random one)")
    run.add_argument("--attempt", type=int, default=0)
    run.add_argument("--hostname")
    run.add_argument("--log-directory")
    run.add_argument("--cgroup-parent", help="e.g. /kubepods/besteffort/pod<uid>")
    run.add_argument("--port", action="append", help="[HOST_IP:]HOST:CONTAINER[/PROTO], repeatable")
    run.add_argument("--ingress", help="kubernetes.io/ingress-bandwidth annotation, e.g. 10M")
    run.add_argument("--egress", help="kubernetes.io/egress-bandwidth annotation, e.g. 10M")
    run.add_argument("--label", action="append", help="KEY=VALUE, repeatable")
    run.add_argument("--annotation", action="append", help="KEY=VALUE, repeatable")
    run.add_argument("--dns-server", action="append")
    run.add_argument("--dns-search", action="append")
    run.add_argument("--runtime-handler", default="")
    for name in ("status", "stop", "remove"):
        one = sub.add_parser(name)
        one.add_argument("id")
        if name == "status":
            one.add_argument("--brief", action="store_true", help="not verbose: no runtime info")
    return p


def main():
    args = parser().parse_args()
    pb, pb_grpc = load_stubs(os.path.abspath(args.gen_dir))
    import grpc
    with grpc.insecure_channel("unix://" + os.path.abspath(args.socket)) as channel:
        stub = pb_grpc.RuntimeServiceStub(channel)
        try:
            reply = to_json(call(pb, stub, args))
        except grpc.RpcError as error:
            sys.stderr.write("%s: %s\n" % (error.code().name, error.details()))
            return 1
    # containerd's verbose info values are JSON documents themselves; nest them.
    for key, value in list(reply.get("info", {}).items()):
        try:
            reply["info"][key] = json.loads(value)
        except ValueError:
            pass
    json.dump(reply, sys.stdout, indent=1, sort_keys=True)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
