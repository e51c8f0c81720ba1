#!/bin/sh
# Starts the Astro dev server of one workspace inside its container.
# /app is the workspace (a volume or a bind mount); dependencies are baked into the image at
# /opt/deps/node_modules and shared read-only, so a workspace normally needs no install at all.
set -u

log() { echo "[entrypoint] $*"; }
fail() { echo "[entrypoint] error: $*" >&2; exit 1; }

MIN_NODE_MAJOR=18
node_version=$(node --version 2>/dev/null) || fail "node is not installed in this image"
node_major=${node_version#v}
node_major=${node_major%%.*}
[ "$node_major" -ge "$MIN_NODE_MAJOR" ] || fail "Node.js $node_version is too old; Astro 4 needs $MIN_NODE_MAJOR or newer"
log "Node.js $node_version"

cd /app || fail "/app is missing: mount the workspace there"

if [ ! -e node_modules ]; then
  if [ -d /opt/deps/node_modules ]; then
    ln -s /opt/deps/node_modules node_modules || fail "cannot link the shared dependencies into /app"
  else
    log "node_modules missing: running npm install"
    npm install --no-audit --no-fund || fail "npm install failed"
  fi
fi

# Astro writes .astro/ and Vite its cache into the workspace: the server's user must own it.
if [ "$(id -u)" = "0" ]; then
  find /app -path /app/node_modules -prune -o ! -user node -exec chown -h node:node {} + 2>/dev/null || true
fi

[ "$#" -gt 0 ] || set -- npm run dev
if [ "$*" = "npm run dev" ]; then
  # Run the package's dev script the way npm would (its .bin first on PATH), but without npm
  # staying resident as its parent: that saves ~15 MiB per idle workspace and ~0.3 s per start.
  dev_script=$(node -e 'const s = require("/app/package.json").scripts || {}; if (!s.dev) process.exit(3); process.stdout.write(s.dev)') \
    || fail "package.json has no \"dev\" script"
  PATH="/app/node_modules/.bin:$PATH"
  export PATH
  set -- sh -c "exec $dev_script"
  log "npm run dev: $dev_script"
fi
log "Starting Astro dev server..."
"$@" &
PID=$!
trap 'log "stopping (signal)"; kill -TERM "$PID" 2>/dev/null' TERM INT

# `wait` returns early when a trapped signal arrives; wait again for the real exit status.
wait "$PID"
status=$?
while kill -0 "$PID" 2>/dev/null; do
  wait "$PID"
  status=$?
done

if [ "$status" -ne 0 ] && [ "$status" -ne 143 ] && [ "$status" -ne 130 ]; then
  echo "[entrypoint] error: the Astro dev server exited with status $status" >&2
fi
exit "$status"
