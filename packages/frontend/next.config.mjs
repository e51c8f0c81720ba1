import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The repository root holds the one lockfile of the npm workspaces.
  outputFileTracingRoot: path.join(here, '../..'),
  // The root `lint` script runs ESLint over every package; the build only type-checks.
  eslint: { ignoreDuringBuilds: true },
};

export default nextConfig;
