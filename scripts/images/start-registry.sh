#!/usr/bin/env bash
# Starts a local image registry on 127.0.0.1:5000 with Debian's docker-registry (no auth,
# filesystem storage under .data/registry), unless one already answers there.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
DATA="${REGISTRY_DATA_DIR:-$ROOT_DIR/.data/registry}"
ADDR="${REGISTRY_ADDR:-127.0.0.1:5000}"

if curl -fsS "http://$ADDR/v2/" >/dev/null 2>&1; then
  echo "[registry] already answering on $ADDR"
  exit 0
fi
command -v docker-registry >/dev/null || { echo "[registry] docker-registry is not installed (apt-get install -y docker-registry)" >&2; exit 1; }

mkdir -p "$DATA/storage"
cat > "$DATA/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $DATA/storage
  delete:
    enabled: true
http:
  addr: $ADDR
YAML
nohup docker-registry serve "$DATA/config.yml" > "$DATA/registry.log" 2>&1 &
echo $! > "$DATA/registry.pid"
for _ in $(seq 1 50); do
  curl -fsS "http://$ADDR/v2/" >/dev/null 2>&1 && { echo "[registry] serving on $ADDR (pid $(cat "$DATA/registry.pid"))"; exit 0; }
  sleep 0.2
done
echo "[registry] did not start; see $DATA/registry.log" >&2
exit 1
