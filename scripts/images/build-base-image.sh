#!/usr/bin/env bash
# Builds a minimal Node.js base image with no registry: the host's node and npm, the shared
# libraries node links against, and a static busybox for /bin/sh and coreutils, imported with
# `docker import`. Users with internet access can keep the Dockerfile's default node:20-alpine.
#   usage: build-base-image.sh [image-tag]   (default builder/node-base:20)
set -euo pipefail

TAG="${1:-${BASE_IMAGE_TAG:-builder/node-base:20}}"
DOCKER="${DOCKER:-/usr/bin/docker}"

if "$DOCKER" image inspect "$TAG" >/dev/null 2>&1 && [ "${FORCE:-0}" != "1" ]; then
  echo "[base-image] $TAG already present"
  exit 0
fi

NODE_BIN="$(readlink -f "$(command -v node)")"
NPM_DIR="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
BUSYBOX="$(command -v busybox || true)"
if [ -z "$BUSYBOX" ] || ! file "$BUSYBOX" 2>/dev/null | grep -q 'statically linked'; then
  echo "[base-image] a static busybox is needed: apt-get install -y busybox-static" >&2
  exit 1
fi

ROOT="$(mktemp -d)"
trap 'rm -rf "$ROOT"' EXIT
echo "[base-image] assembling rootfs from node $(node -v), npm $(npm -v)"

mkdir -p "$ROOT"/{bin,sbin,etc,tmp,root,home/node,usr/local/bin,usr/local/lib,usr/bin,var/tmp,app,opt}
chmod 1777 "$ROOT/tmp" "$ROOT/var/tmp"
cp "$NODE_BIN" "$ROOT/usr/local/bin/node"
mkdir -p "$ROOT/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$ROOT/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"

# Shared libraries of node (and of the native modules Astro loads: rollup, sharp want glibc).
for lib in $(ldd "$NODE_BIN" | grep -oE '/[^ ]+\.so[^ ]*'); do
  mkdir -p "$ROOT$(dirname "$lib")"
  cp -L "$lib" "$ROOT$lib"
done
for lib in /lib/x86_64-linux-gnu/libresolv.so.2 /lib/x86_64-linux-gnu/libnss_dns.so.2 /lib/x86_64-linux-gnu/libnss_files.so.2 /lib/x86_64-linux-gnu/librt.so.1; do
  [ -e "$lib" ] && { mkdir -p "$ROOT$(dirname "$lib")"; cp -L "$lib" "$ROOT$lib"; }
done
[ -e /lib64 ] && [ ! -e "$ROOT/lib64" ] && { mkdir -p "$ROOT/lib64"; cp -L /lib64/ld-linux-x86-64.so.2 "$ROOT/lib64/"; }

cp "$BUSYBOX" "$ROOT/bin/busybox"
for applet in $("$BUSYBOX" --list); do
  [ "$applet" = busybox ] && continue
  [ -e "$ROOT/bin/$applet" ] || ln -s busybox "$ROOT/bin/$applet"
done
ln -sf /bin/env "$ROOT/usr/bin/env"

cat > "$ROOT/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
node:x:1000:1000:node:/home/node:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$ROOT/etc/group" <<'GROUP'
root:x:0:
node:x:1000:
nogroup:x:65534:
GROUP
echo 'hosts: files dns' > "$ROOT/etc/nsswitch.conf"
# The host's trust store, so npm inside image builds trusts what the host trusts (this network
# intercepts TLS with its own CA).
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
[ -f "$CA_BUNDLE" ] && { mkdir -p "$ROOT/etc/ssl/certs"; cp -L "$CA_BUNDLE" "$ROOT$CA_BUNDLE"; }
chown -R 1000:1000 "$ROOT/home/node"

echo "[base-image] importing as $TAG"
tar -C "$ROOT" -c . | "$DOCKER" import \
  -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENV NODE_VERSION='"$(node -v | tr -d v)" \
  -c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  -c 'ENV NPM_CONFIG_CAFILE=/etc/ssl/certs/ca-certificates.crt' \
  -c 'CMD ["node"]' \
  -m "node $(node -v) from the host, busybox userland" - "$TAG" >/dev/null
"$DOCKER" run --rm "$TAG" node -e 'console.log("[base-image] ok: node " + process.version)'
