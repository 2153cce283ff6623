#!/usr/bin/env bash
# Builds the installer image with podman:  Scripts/build-image.sh [TAG]
# TAG defaults to localhost/swift-cni:latest. The static release binary is built with
# Scripts/install.sh, unless SWIFT_CNI_BINARY names one already built.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tag="${1:-localhost/swift-cni:latest}"
context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
if [[ -n "${SWIFT_CNI_BINARY:-}" ]]; then
    cp "$SWIFT_CNI_BINARY" "$context/cni-plugins"
else
    "$root/Scripts/install.sh" "$context/bin" >/dev/null
    mv "$context/bin/cni-plugins" "$context/cni-plugins"
    rm -rf "$context/bin"
fi
cp "$root/Plugins-Config-Examples/kubernetes/10-swift-cni.conflist.template" "$context/"
podman build -f "$root/Scripts/Containerfile" -t "$tag" "$context"
