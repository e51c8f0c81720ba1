#!/usr/bin/env bash
# Firewall rules that leave a workspace container no way out of its network: it answers the
# backend (replies to connections the host opened) and nothing else: not the internet, not the
# host's own services (the bridge gateway address included), not other workspaces.
# The workspace network is created by the docker runtime with this bridge name and with
# inter-container traffic disabled (com.docker.network.bridge.enable_icc=false).
# Idempotent; needs root and iptables. Usage: isolate-workspaces.sh [bridge-name]
set -euo pipefail

BRIDGE="${1:-${WORKSPACE_BRIDGE:-br-builder-ws}}"
IPT="${IPTABLES:-iptables}"
command -v "$IPT" >/dev/null || { echo "[isolate] iptables is not installed" >&2; exit 1; }

ensure() { # chain, rule...
  local chain="$1"; shift
  "$IPT" -C "$chain" "$@" 2>/dev/null || "$IPT" -I "$chain" 1 "$@"
}

# Order matters: rules are inserted at the top, so the DROP goes in first and the ACCEPT above it.
# Traffic the host or a published port started gets its replies through; new connections from a
# workspace are dropped, to the host (INPUT) and to anywhere it would be routed (FORWARD).
ensure INPUT -i "$BRIDGE" -j DROP
ensure INPUT -i "$BRIDGE" -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
"$IPT" -N DOCKER-USER 2>/dev/null || true
ensure DOCKER-USER -i "$BRIDGE" -j DROP
ensure DOCKER-USER -i "$BRIDGE" -m conntrack --ctstate ESTABLISHED,RELATED -j RETURN
echo "[isolate] workspace bridge $BRIDGE: egress dropped (replies allowed)"
