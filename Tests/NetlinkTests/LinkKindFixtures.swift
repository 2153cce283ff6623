/// Link kinds this kernel lacks (dummy, vrf), captured from iproute2 with
/// Scripts/netlink-capture.py: the request is sent and recorded even when the kernel refuses it.
extension Fixtures {
    // ip link add cnitdm0 type dummy
    static let dummy = hex(
        """
        3c 00 00 00 10 00 05 06 01 00 00 00 00 00 00 00  // nlmsghdr: len 60, RTM_NEWLINK, flags 0x605, seq 1
        00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  // ifinfomsg
        0c 00 03 00 63 6e 69 74 64 6d 30 00  // attr 3, len 12 "cnitdm0"
        10 00 12 00  // attr 18, len 16, nested
            09 00 01 00 64 75 6d 6d 79 00 00 00  // attr 1, len 9
        """)

    // ip link add cnitvrf0 type vrf table 1010
    static let vrf = hex(
        """
        48 00 00 00 10 00 05 06 01 00 00 00 00 00 00 00  // nlmsghdr: len 72, RTM_NEWLINK, flags 0x605, seq 1
        00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  // ifinfomsg
        0d 00 03 00 63 6e 69 74 76 72 66 30 00 00 00 00  // attr 3, len 13 "cnitvrf0"
        18 00 12 00  // attr 18, len 24, nested
            07 00 01 00 76 72 66 00  // attr 1, len 7
            0c 00 02 00  // attr 2, len 12, nested
                08 00 01 00 f2 03 00 00  // attr 1, len 8
        """)
}
