import Foundation
import TestSupport

/// What a ContainerdLab writes before containerd starts: its config.toml and the pause image.
extension ContainerdLab {
    /// containerd's config.toml. With `template`, the CRI plugin renders that file into the
    /// (empty) conf dir when UpdateRuntimeConfig brings a pod CIDR, as on a kubeadm node
    /// without a CNI daemonset.
    func config(pluginDirectory: String, template: String? = nil) -> String {
        // Plugins that probe the host (btrfs, zfs, devmapper, aufs) are off; opt would write /opt.
        let confTemplate = template.map { "\n    conf_template = \"\($0)\"" } ?? ""
        return """
            version = 2
            root = "\(dir)/root"
            state = "\(dir)/state"
            disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
              "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
              "io.containerd.internal.v1.opt"]
            [grpc]
              address = "\(socket)"
            [ttrpc]
              address = "\(socket).ttrpc"
            [plugins."io.containerd.grpc.v1.cri"]
              sandbox_image = "\(Self.pauseImage)"
              # This sandbox may not lower OOM scores; pod netns under our state dir, not /run/netns.
              restrict_oom_score_adj = true
              netns_mounts_under_state_dir = true
              stream_server_address = "127.0.0.1"
              stream_server_port = "0"
              [plugins."io.containerd.grpc.v1.cri".containerd]
                snapshotter = "overlayfs"
                default_runtime_name = "runc"
                [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
                  runtime_type = "io.containerd.runc.v2"
                  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
                    BinaryName = "/usr/sbin/runc"
                    SystemdCgroup = false
              [plugins."io.containerd.grpc.v1.cri".cni]
                bin_dir = "\(pluginDirectory)"
                conf_dir = "\(dir)/net"
                max_conf_num = 1\(confTemplate)

            """
    }

    /// A one-layer OCI image holding static busybox; its "pause" process is `sleep`, which
    /// containerd kills with SIGKILL on StopPodSandbox like the real pause. Imported with
    /// `ctr images import`, so nothing is pulled.
    func buildPauseImage() throws {
        let image = dir + "/image", blobs = image + "/oci/blobs/sha256", files = FileManager.default
        try files.createDirectory(atPath: image + "/rootfs/bin", withIntermediateDirectories: true)
        try files.createDirectory(atPath: blobs, withIntermediateDirectories: true)
        try files.copyItem(atPath: "/bin/busybox", toPath: image + "/rootfs/bin/busybox")
        for applet in ["sh", "sleep"] {
            try files.createSymbolicLink(atPath: image + "/rootfs/bin/" + applet, withDestinationPath: "busybox")
        }
        try Command.checked(["tar", "--numeric-owner", "-C", image + "/rootfs", "-cf", image + "/layer.tar", "."])
        /// Moves a file into the blob store under its digest, returning its OCI descriptor.
        func blob(_ path: String, _ mediaType: String, annotations: [String: String]? = nil) throws -> [String: Any] {
            let digest = try Command.checked(["sha256sum", path]).prefix(64)
            let size = (try files.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            try files.moveItem(atPath: path, toPath: blobs + "/" + digest)
            var descriptor: [String: Any] = ["mediaType": mediaType, "digest": "sha256:" + digest, "size": size]
            descriptor["annotations"] = annotations
            return descriptor
        }
        func write(_ object: [String: Any], _ path: String) throws -> String {
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            try data.write(to: URL(fileURLWithPath: path))
            return path
        }
        let layer = try blob(image + "/layer.tar", "application/vnd.oci.image.layer.v1.tar")
        let config = try blob(
            try write(
                [
                    "architecture": "amd64", "os": "linux",
                    "config": ["Entrypoint": ["/bin/sleep"], "Cmd": ["2147483647"]],
                    // Uncompressed layer: its diff ID is its digest.
                    "rootfs": ["type": "layers", "diff_ids": [layer["digest"]!]],
                ], image + "/config.json"), "application/vnd.oci.image.config.v1+json")
        let manifest = try blob(
            try write(
                [
                    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": config, "layers": [layer],
                ], image + "/manifest.json"), "application/vnd.oci.image.manifest.v1+json",
            annotations: ["io.containerd.image.name": Self.pauseImage])
        _ = try write(["schemaVersion": 2, "manifests": [manifest]], image + "/oci/index.json")
        _ = try write(["imageLayoutVersion": "1.0.0"], image + "/oci/oci-layout")
        try Command.checked(["tar", "-C", image + "/oci", "-cf", image + "/pause.tar", "."])
    }
}
