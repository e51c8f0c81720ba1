const API_PORT = '3000';

/**
 * Origin of the API and of its socket gateway, without a trailing slash: NEXT_PUBLIC_API_URL when
 * set at build time, else port 3000 on the host name the page itself was loaded from (so the app
 * works on localhost, 127.0.0.1 or a LAN name alike).
 */
export function apiBaseUrl(): string {
  // Read literally so Next inlines the value at build time.
  const configured = process.env.NEXT_PUBLIC_API_URL;
  if (configured && configured.trim() !== '') return configured.trim().replace(/\/+$/, '');
  if (typeof window !== 'undefined' && window.location?.hostname) {
    return `${window.location.protocol}//${window.location.hostname}:${API_PORT}`;
  }
  return `http://localhost:${API_PORT}`;
}
