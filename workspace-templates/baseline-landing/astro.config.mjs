// @ts-check
import { defineConfig } from 'astro/config';
import tailwind from '@astrojs/tailwind';

// Workspaces may share one read-only node_modules (the image's, or the template's on the host),
// so Vite's dependency cache cannot live in node_modules/.vite. Each workspace gets its own.
const cacheDir = process.env.VITE_CACHE_DIR || './.vite';

// The builder's web app origins, set by the backend on every workspace: only they may frame the
// preview (CSP frame-ancestors) or read it through CORS. Vite's own default answers CORS for any
// localhost or 127.0.0.1 origin, so another page on this machine could read the preview's HTML.
// Unset (the template run by hand), the dev server keeps Vite's and Astro's defaults.
const webOrigins = (process.env.PREVIEW_WEB_ORIGINS ?? '').split(/[\s,]+/).filter(Boolean);
const previewHeaders =
  webOrigins.length > 0 ? { 'Content-Security-Policy': `frame-ancestors ${webOrigins.join(' ')}` } : undefined;

export default defineConfig({
  output: 'static',
  // Astro's pages carry `server.headers`; Vite's `server.headers` cover what Vite serves itself.
  server: { host: '0.0.0.0', port: 4321, headers: previewHeaders },
  integrations: [tailwind()],
  // The toolbar injects its own UI and sockets into the page; inside the builder's iframe it only
  // gets in the way.
  devToolbar: { enabled: false },
  vite: {
    cacheDir,
    server: {
      // No `hmr.port` on purpose. The browser reaches this server through a published host port
      // (8000-8100) or a preview proxy on another host name, never on 4321 itself. Without a port
      // setting Vite's client dials the page's own origin, which is right in both cases; the plan's
      // `hmr: { port: 4321 }` would make the browser dial :4321 and HMR would silently stop.
      watch: process.env.VITE_POLL === '1' ? { usePolling: true, interval: 100 } : undefined,
      headers: previewHeaders,
      ...(webOrigins.length > 0 ? { cors: { origin: webOrigins } } : {}),
    },
  },
});
