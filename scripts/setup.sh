#!/usr/bin/env bash
# Idempotent machine set-up shared by `npm start`, `npm test` and CI: installs what is missing and
# starts the services the builder uses. Each step prints one line and is skipped when already done.
#   usage: setup.sh start   # Docker, registry and images when possible; falls back to the local runtime
#          setup.sh test    # everything the test suites need; any failure is fatal
set -uo pipefail

MODE="${1:-start}"
ROOT_DIR="$(cd "$(dirname "$0")/.." && pwd)"
DATA_DIR="${DATA_DIR:-$ROOT_DIR/.data}"
DOCKER=/usr/bin/docker
mkdir -p "$DATA_DIR"

say() { echo "[setup] $*"; }
die() { echo "[setup] error: $*" >&2; exit 1; }
soft() { if [ "$MODE" = test ]; then die "$*"; else say "warning: $*"; fi; }
as_root() { [ "$(id -u)" = 0 ]; }

apt_packages=()
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || apt_packages+=("$1"); }
need_pkg docker.io
need_pkg docker-registry
need_pkg busybox-static
need_pkg iptables
need_pkg curl
# The swarm tests: a second engine in a network namespace (ip, nsenter).
[ "$MODE" = test ] && need_pkg iproute2 && need_pkg util-linux
[ "$MODE" = test ] && need_pkg chromium
# The tests validate .devcontainer/docker-compose.yml with a real Compose implementation.
[ "$MODE" = test ] && need_pkg docker-compose
command -v pg_ctlcluster >/dev/null 2>&1 || [ "$MODE" != test ] || need_pkg postgresql

if [ ${#apt_packages[@]} -gt 0 ]; then
  if as_root && command -v apt-get >/dev/null; then
    say "installing ${apt_packages[*]} (apt, a few minutes the first time)"
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -q && apt-get install -y -q --no-install-recommends "${apt_packages[@]}"; } > "$DATA_DIR/apt.log" 2>&1 \
      || soft "apt-get install failed; see $DATA_DIR/apt.log"
  else
    soft "missing packages ${apt_packages[*]} and not root: install them with apt-get"
  fi
fi

# Each dev server holds an inotify instance; the default 128 caps a machine near 120 workspaces.
if as_root && [ "$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo 0)" -lt 1024 ]; then
  sysctl -qw fs.inotify.max_user_instances=1024 fs.inotify.max_user_watches=524288 >/dev/null 2>&1 \
    && say "raised fs.inotify.max_user_instances to 1024" || say "could not raise inotify limits"
fi

# Node dependencies: the monorepo, and the template (its node_modules serves the local runtime).
if [ ! -d "$ROOT_DIR/node_modules/.bin" ] || [ "$ROOT_DIR/package-lock.json" -nt "$ROOT_DIR/node_modules/.package-lock.json" ]; then
  say "installing npm dependencies (npm ci)"
  (cd "$ROOT_DIR" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
fi
TPL="$ROOT_DIR/workspace-templates/baseline-landing"
if [ ! -d "$TPL/node_modules/astro" ] || [ "$TPL/package-lock.json" -nt "$TPL/node_modules/.package-lock.json" ]; then
  say "installing the template's dependencies"
  (cd "$TPL" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in the template failed"
fi

# Docker engine.
docker_ok() { [ -S /var/run/docker.sock ] && "$DOCKER" version >/dev/null 2>&1; }
if ! docker_ok && command -v dockerd >/dev/null 2>&1 && as_root; then
  say "starting dockerd"
  # Published ports by the kernel's NAT instead of a docker-proxy process per port: one userland
  # hop less on every request and HMR message to a preview's direct port (and no process per
  # workspace). Previews are published on 127.0.0.1, which the engine then routes with
  # route_localnet on its bridges.
  nohup dockerd --userland-proxy=false > "$DATA_DIR/dockerd.log" 2>&1 &
  for _ in $(seq 1 60); do docker_ok && break; sleep 0.5; done
fi
if docker_ok; then
  say "docker engine answers"
  if as_root; then
    bash "$ROOT_DIR/scripts/network/isolate-workspaces.sh" || soft "could not install the workspace firewall rules"
  fi
  bash "$ROOT_DIR/scripts/images/start-registry.sh" || soft "the local registry did not start"
  bash "$ROOT_DIR/scripts/images/build-template-image.sh" || soft "the template image did not build"
  # The swarm tests run the API from its image, as a container on the swarm's manager; the stack
  # test deploys deploy/stack.yml with the front proxy's image too, and a web app built for the
  # API's address there (tests/deploy/stack-deploy.test.ts). Each is skipped when unchanged.
  if [ "$MODE" = test ]; then
    bash "$ROOT_DIR/scripts/images/build-app-images.sh" api front || soft "the API or front proxy image did not build"
    IMAGE_TAG=stack-test WEB_API_URL=http://localhost:8700 bash "$ROOT_DIR/scripts/images/build-app-images.sh" web \
      || soft "the web app image did not build"
  fi
else
  soft "no Docker engine: the builder uses the local runtime (astro dev processes)"
fi

# PostgreSQL for the tests (the app itself defaults to its embedded database).
if [ "$MODE" = test ]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    ver=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
    [ -n "$ver" ] || die "PostgreSQL is not installed"
    say "starting PostgreSQL $ver"
    pg_ctlcluster "$ver" main start || die "PostgreSQL did not start"
    for _ in $(seq 1 40); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.25; done
  fi
  su postgres -c "psql -tAc \"SELECT 1 FROM pg_roles WHERE rolname='builder'\"" 2>/dev/null | grep -q 1 \
    || su postgres -c "psql -qc \"CREATE ROLE builder LOGIN SUPERUSER PASSWORD 'builder'\"" >/dev/null \
    || die "cannot create the test role"
  su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname='builder'\"" 2>/dev/null | grep -q 1 \
    || su postgres -c "psql -qc 'CREATE DATABASE builder OWNER builder'" >/dev/null \
    || die "cannot create the test database"
  say "PostgreSQL ready (postgres://builder:***@127.0.0.1:5432/builder)"
fi
say "done"
