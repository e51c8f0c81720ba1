#!/bin/sh
# Image build step: runs the dev server once so the image carries what every first start would
# otherwise redo: Vite's optimized dependencies (.vite/deps) and Astro's generated types (.astro/).
# A workspace's volume is filled from the image's /app, so each one starts with its own copy and
# Vite finds its cache valid (same root, lockfile and config), skipping the dependency scan and
# bundling that otherwise delay the first page.
#   PREWARM_PORT   loopback port for this one run (default 4399)
set -eu

PORT="${PREWARM_PORT:-4399}"
cd /app
node node_modules/astro/astro.js dev --host 127.0.0.1 --port "$PORT" >/tmp/prewarm.log 2>&1 &
PID=$!

# Done when the page has rendered and Vite has renamed its temporary optimization folder into
# .vite/deps, which it does once the browser-side modules were crawled.
if ! PREWARM_PORT="$PORT" node -e '
  const fs = require("node:fs");
  const done = () => fs.existsSync(".vite/deps/_metadata.json") &&
    !fs.readdirSync(".vite").some((name) => name.startsWith("deps_temp"));
  const deadline = Date.now() + 120000;
  (async () => {
    let rendered = false;
    while (Date.now() < deadline) {
      if (!rendered) {
        const origin = `http://127.0.0.1:${process.env.PREWARM_PORT}`;
        const res = await fetch(origin + "/").catch(() => null);
        const html = res && res.ok ? await res.text() : "";
        rendered = html.includes("</html>");
        // Vite commits its optimized dependencies once the browser-side modules were crawled:
        // request the scripts and styles of the page, as a browser would.
        const assets = [...html.matchAll(/(?:src|href)="(\/[^"]*)"/g)].map((m) => m[1]);
        for (const path of assets) await fetch(origin + path).then((r) => r.arrayBuffer()).catch(() => null);
      }
      if (rendered && done()) return setTimeout(() => process.exit(done() ? 0 : 1), 1000);
      await new Promise((r) => setTimeout(r, 200));
    }
    console.error("[prewarm] the dev server did not render the page and settle its cache in 120 s");
    process.exit(1);
  })();
'; then
  cat /tmp/prewarm.log >&2
  kill "$PID" 2>/dev/null || true
  exit 1
fi

kill "$PID"
wait "$PID" 2>/dev/null || true
rm -rf /tmp/prewarm.log .vite/deps_temp_*
echo "[prewarm] cached: $(ls .vite/deps | wc -l) files in .vite/deps, $(ls .astro | wc -l) in .astro"
