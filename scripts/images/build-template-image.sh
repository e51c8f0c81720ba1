#!/usr/bin/env bash
# Builds the baseline template image and, when a registry answers on localhost:5000, pushes it
# there so the backend pulls it the way the plan describes.
#   BASE_IMAGE   base to build on (default: node:20-alpine when present locally, else a local
#                base built from the host's node by build-base-image.sh)
#   FORCE=1      rebuild even when the image is up to date
#   IMAGE_TAG    tag to build and push (default latest; a branch builds its own, e.g. IMAGE_TAG=issue-15)
# The image is labelled with a hash of everything it is built from (Dockerfile, template sources,
# entrypoint, health check, prewarm step), so a checkout that changed any of them rebuilds it.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "$0")/../.." && pwd)"
DOCKER="${DOCKER:-/usr/bin/docker}"
NAME="baseline-landing-template"
TAG="${IMAGE_TAG:-latest}"
REGISTRY="${REGISTRY_ADDR:-localhost:5000}"
LOCAL_BASE="builder/node-base:20"

INPUTS_HASH="$(cd "$ROOT_DIR" && find workspace-templates/baseline-landing .devcontainer/preview-template \
  -path '*/node_modules' -prune -o -path '*/.astro' -prune -o -path '*/.vite' -prune -o -type f -print \
  | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)"
built_from="$("$DOCKER" image inspect -f '{{index .Config.Labels "builder.inputs-hash"}}' "$NAME:$TAG" 2>/dev/null || true)"

if [ "$built_from" = "$INPUTS_HASH" ] && [ "${FORCE:-0}" != "1" ]; then
  echo "[template-image] $NAME:$TAG is up to date ($INPUTS_HASH)"
else
  base="${BASE_IMAGE:-}"
  if [ -z "$base" ]; then
    # No pull attempt: many machines here reach no image registry. With internet access, pass
    # BASE_IMAGE=node:20-alpine (the Dockerfile's own default) to build on the official image.
    if "$DOCKER" image inspect node:20-alpine >/dev/null 2>&1; then
      base=node:20-alpine
    else
      echo "[template-image] node:20-alpine is not present: building a local base image from the host's node"
      FORCE="${FORCE_BASE:-0}" bash "$ROOT_DIR/scripts/images/build-base-image.sh" "$LOCAL_BASE"
      base="$LOCAL_BASE"
    fi
  fi
  echo "[template-image] building $NAME:$TAG on $base (npm ci inside the build; a minute or two)"
  # Host networking lets the build's `npm ci` use the host's route to the npm registry.
  "$DOCKER" build --network host --build-arg "BASE_IMAGE=$base" --label "builder.inputs-hash=$INPUTS_HASH" \
    -f "$ROOT_DIR/workspace-templates/baseline-landing/Dockerfile" \
    -t "$NAME:$TAG" "$ROOT_DIR" | sed -u 's/^/[template-image] /'
fi

"$DOCKER" tag "$NAME:$TAG" "$REGISTRY/$NAME:$TAG"
if curl -fsS "http://${REGISTRY/localhost/127.0.0.1}/v2/" >/dev/null 2>&1; then
  echo "[template-image] pushing $REGISTRY/$NAME:$TAG"
  "$DOCKER" push "$REGISTRY/$NAME:$TAG" >/dev/null
  echo "[template-image] pushed"
else
  echo "[template-image] no registry on $REGISTRY: tagged locally only"
fi
