#!/usr/bin/env bash
# Builds the API, web app and front proxy images offline (npm registry only; the base image is made from the
# host's Node, like the template image's) and, when the local registry answers, pushes them.
#   usage: build-app-images.sh [api|web|front]...   (default: all three)
#   IMAGE_TAG   tag (default latest; a branch builds its own, e.g. IMAGE_TAG=issue-15)
#   WEB_API_URL the API's public origin, inlined into the web app (NEXT_PUBLIC_API_URL; default
#               none: the page calls port 3000 of the host it was loaded from)
#   BASE_IMAGE  base to build on (default: node:20-alpine when present, else builder/node-base:20)
#   REGISTRY_ADDR  registry to push to (default localhost:5000)
#   FORCE=1     rebuild even when the image is up to date
# Each image is labelled with a hash of what it is built from, so an unchanged checkout skips it.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
DOCKER="${DOCKER:-docker}"
TAG="${IMAGE_TAG:-latest}"
REGISTRY="${REGISTRY_ADDR:-localhost:5000}"
LOCAL_BASE="builder/node-base:20"

base="${BASE_IMAGE:-}"
if [ -z "$base" ]; then
  if "$DOCKER" image inspect node:20-alpine >/dev/null 2>&1; then
    base=node:20-alpine
  else
    bash "$ROOT_DIR/scripts/images/build-base-image.sh" "$LOCAL_BASE"
    base="$LOCAL_BASE"
  fi
fi

for app in "${@:-api web front}"; do
  for name in $app; do
    case "$name" in
      api) dockerfile=packages/nest/Dockerfile; sources="packages/nest workspace-templates/baseline-landing" ;;
      web) dockerfile=packages/frontend/Dockerfile; sources="packages/frontend" ;;
      front) dockerfile=deploy/front/Dockerfile; sources="scripts/front-proxy.mjs deploy/front" ;;
      *) echo "[app-images] unknown image $name (api, web or front)" >&2; exit 1 ;;
    esac
    build_args=(--build-arg "BASE_IMAGE=$base")
    [ "$name" = web ] && build_args+=(--build-arg "NEXT_PUBLIC_API_URL=${WEB_API_URL:-}")
    image="$REGISTRY/builder-$name:$TAG"
    # shellcheck disable=SC2086 # $sources is a list
    inputs_hash="$(cd "$ROOT_DIR" && find package.json package-lock.json tsconfig.base.json packages/shared $sources \
      -path '*/node_modules' -prune -o -path '*/dist' -prune -o -path '*/.next' -prune -o -path '*/test' -prune \
      -o -path '*/.astro' -prune -o -path '*/.vite' -prune \
      -o -name '*.tsbuildinfo' -prune -o -type f -print | LC_ALL=C sort | xargs sha256sum \
      | { cat; echo "${build_args[*]}"; } | sha256sum | cut -c1-16)"
    built_from="$("$DOCKER" image inspect -f '{{index .Config.Labels "builder.inputs-hash"}}' "$image" 2>/dev/null || true)"
    if [ "$built_from" = "$inputs_hash" ] && [ "${FORCE:-0}" != "1" ]; then
      echo "[app-images] $image is up to date ($inputs_hash)"
      continue
    fi
    echo "[app-images] building $image on $base"
    # Host networking lets `npm ci` inside the build use the host's route to the npm registry.
    "$DOCKER" build --network host "${build_args[@]}" --label "builder.inputs-hash=$inputs_hash" \
      -f "$ROOT_DIR/$dockerfile" -t "$image" "$ROOT_DIR" \
      | sed -u "s/^/[app-images:$name] /"
    if curl -fsS "http://${REGISTRY/localhost/127.0.0.1}/v2/" >/dev/null 2>&1; then
      "$DOCKER" push "$image" >/dev/null && echo "[app-images] pushed $image"
    fi
  done
done
