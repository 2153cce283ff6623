// cni-driver: a minimal runtime over libcni (the CNI project's Go runtime library), used by
// swift-cni's interop tests to drive the plugins exactly as containerd/CRI-O/podman do.
//
// Usage: cni-driver add|check|del|validate NETWORK NETNS
//
// Environment (as cnitool): NETCONFPATH (conflist directory), CNI_PATH, CNI_IFNAME (default
// eth0), CNI_ARGS (k=v;k=v), CAP_ARGS (JSON capability args), plus CNI_CONTAINERID and
// CNI_CACHE_DIR (private result cache). Prints the ADD result JSON on stdout.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 4 {
		fail("usage: cni-driver add|check|del|validate NETWORK NETNS")
	}
	command, network, netns := os.Args[1], os.Args[2], os.Args[3]

	conflist, err := libcni.LoadConfList(os.Getenv("NETCONFPATH"), network)
	if err != nil {
		fail("loading network %q: %v", network, err)
	}

	var capabilityArgs map[string]interface{}
	if raw := os.Getenv("CAP_ARGS"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &capabilityArgs); err != nil {
			fail("parsing CAP_ARGS: %v", err)
		}
	}
	var cniArgs [][2]string
	if raw := os.Getenv("CNI_ARGS"); raw != "" {
		for _, pair := range strings.Split(raw, ";") {
			kv := strings.SplitN(pair, "=", 2)
			if len(kv) != 2 {
				fail("invalid CNI_ARGS pair %q", pair)
			}
			cniArgs = append(cniArgs, [2]string{kv[0], kv[1]})
		}
	}
	ifName := os.Getenv("CNI_IFNAME")
	if ifName == "" {
		ifName = "eth0"
	}
	containerID := os.Getenv("CNI_CONTAINERID")
	if containerID == "" {
		containerID = "cnidriver-" + strings.ReplaceAll(filepath.Base(netns), "_", "-")
	}
	cacheDir := os.Getenv("CNI_CACHE_DIR")
	paths := filepath.SplitList(os.Getenv("CNI_PATH"))
	cni := libcni.NewCNIConfigWithCacheDir(paths, cacheDir, nil)
	rt := &libcni.RuntimeConf{
		ContainerID:    containerID,
		NetNS:          netns,
		IfName:         ifName,
		Args:           cniArgs,
		CapabilityArgs: capabilityArgs,
		CacheDir:       cacheDir,
	}

	ctx := context.Background()
	switch command {
	case "add":
		result, err := cni.AddNetworkList(ctx, conflist, rt)
		if err != nil {
			fail("add: %v", err)
		}
		if err := result.Print(); err != nil {
			fail("printing result: %v", err)
		}
	case "check":
		if err := cni.CheckNetworkList(ctx, conflist, rt); err != nil {
			fail("check: %v", err)
		}
	case "del":
		if err := cni.DelNetworkList(ctx, conflist, rt); err != nil {
			fail("del: %v", err)
		}
	case "validate":
		caps, err := cni.ValidateNetworkList(ctx, conflist)
		if err != nil {
			fail("validate: %v", err)
		}
		fmt.Println(strings.Join(caps, ","))
	default:
		fail("unknown command %q", command)
	}
}
