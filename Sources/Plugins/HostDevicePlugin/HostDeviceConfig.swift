import CNISkeleton
import CNISystem
import Glibc

/// Which host device an attachment takes: by name, MAC, sysfs device path, PCI address, or the
/// runtime's `deviceID` (PCI or auxiliary bus), the first given in that order winning.
struct HostDeviceConfig {
    enum Selector: Equatable {
        case name(String)
        case mac(String)
        /// A directory whose `net/` lists the device's network interface.
        case sysfs(String)
    }

    var selector: Selector
    /// A PCI device bound to a DPDK driver has no netdev to move.
    var dpdk = false
    var ipamType = ""

    static let dpdkDrivers: Set<String> = ["vfio-pci", "uio_pci_generic", "igb_uio"]

    init(_ request: CNIRequest) throws(CNIError) {
        let f = request.config.fields
        let device: String?, hwaddr: String?, kernelpath: String?, pci: String?, deviceID: String?
        do {
            device = try f.string("device").flatMap { $0.isEmpty ? nil : $0 }
            hwaddr = try f.string("hwaddr").flatMap { $0.isEmpty ? nil : $0 }
            kernelpath = try f.string("kernelpath").flatMap { $0.isEmpty ? nil : $0 }
            pci = try f.string("pciBusID").flatMap { $0.isEmpty ? nil : $0 }
            deviceID = try request.config.runtimeConfig()?.string("deviceID").flatMap { $0.isEmpty ? nil : $0 }
        } catch {
            throw CNIError.decodingConfig(error)
        }
        ipamType = try request.config.ipamType()
        if let device {
            selector = .name(device)
        } else if let hwaddr {
            // Go's net.ParseMAC also takes dashes.
            selector = .mac(hwaddr.lowercased().replacingDashes())
        } else if let kernelpath {
            guard kernelpath.hasPrefix("/sys/devices/"), !kernelpath.contains("..") else {
                throw .invalidConfig(
                    "kernel device path \"\(kernelpath)\" must be absolute and begin with /sys/devices/",
                    details: "key: kernelpath")
            }
            selector = .sysfs(kernelpath)
        } else if let id = pci ?? deviceID {
            guard !id.contains("/"), !id.hasPrefix(".") else {
                throw .invalidConfig(
                    "invalid device ID \"\(id)\"", details: "key: \(pci != nil ? "pciBusID" : "deviceID")")
            }
            let pciPath = "/sys/bus/pci/devices/" + id
            if Self.exists(pciPath) {
                selector = .sysfs(pciPath)
                dpdk = Self.driver(of: pciPath).map(Self.dpdkDrivers.contains) ?? false
            } else if pci == nil, Self.exists("/sys/bus/auxiliary/devices/" + id) {
                selector = .sysfs("/sys/bus/auxiliary/devices/" + id)
            } else {
                throw .invalidConfig(
                    pci != nil
                        ? "PCI device \(id) not found" : "runtime config DeviceID \(id) not found or unsupported",
                    details: "key: \(pci != nil ? "pciBusID" : "deviceID")")
            }
        } else {
            throw .invalidConfig("specify either \"device\", \"hwaddr\", \"kernelpath\" or \"pciBusID\"")
        }
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The name of the driver bound to a sysfs device (the `driver` link's last component).
    static func driver(of device: String) -> String? {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink(device + "/driver", &buffer, buffer.count - 1)
        guard n > 0 else { return nil }
        let target = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return target.split(separator: "/").last.map(String.init)
    }

    /// The network interfaces listed under a sysfs device's `net/` (or `virtio*/net/`).
    static func interfaces(of device: String) -> [String] {
        var names = list(device + "/net")
        if names.isEmpty {
            for entry in list(device) where entry.hasPrefix("virtio") { names += list(device + "/" + entry + "/net") }
        }
        return names.sorted()
    }

    private static func list(_ path: String) -> [String] { DirectoryEntries.names(atPath: path) ?? [] }
}

extension String {
    func replacingDashes() -> String { String(map { $0 == "-" ? ":" : $0 }) }
}
