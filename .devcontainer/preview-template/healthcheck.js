#!/usr/bin/env node
// Readiness probe of a workspace's dev server: exit 0 when GET / answers 2xx/3xx, 1 otherwise.
// Used by the image's HEALTHCHECK and runnable by hand. Node's own http module, because the base
// image may have no curl.
'use strict';
const http = require('node:http');

const url = process.env.HEALTHCHECK_URL || 'http://127.0.0.1:4321/';
const TOTAL_BUDGET_MS = 5000;
const ATTEMPTS = 2;
const ATTEMPT_TIMEOUT_MS = 2000;
const RETRY_DELAY_MS = 500;

function probe() {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: ATTEMPT_TIMEOUT_MS }, (res) => {
      res.resume();
      const ok = res.statusCode >= 200 && res.statusCode < 400;
      resolve(ok ? null : `HTTP ${res.statusCode}`);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${ATTEMPT_TIMEOUT_MS} ms`)));
    req.on('error', (err) => resolve(err.message || String(err)));
  });
}

async function main() {
  const deadline = Date.now() + TOTAL_BUDGET_MS;
  let reason = 'not probed';
  for (let attempt = 1; attempt <= ATTEMPTS && Date.now() < deadline; attempt++) {
    reason = await probe();
    if (reason === null) {
      console.log(`healthy: ${url}`);
      process.exit(0);
    }
    if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
  }
  console.error(`unhealthy: ${url}: ${reason}`);
  process.exit(1);
}

main();
