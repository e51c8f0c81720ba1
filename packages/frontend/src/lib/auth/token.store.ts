const TOKEN_KEY = 'builder.accessToken';

// Used when sessionStorage is unavailable (server render, storage disabled by the browser).
let memoryToken: string | null = null;

function storage(): Storage | null {
  try {
    return typeof window === 'undefined' ? null : window.sessionStorage;
  } catch {
    return null;
  }
}

/** The access token, kept for the browser session of this tab. */
export const tokenStore = {
  get(): string | null {
    return storage()?.getItem(TOKEN_KEY) ?? memoryToken;
  },
  set(token: string): void {
    memoryToken = token;
    storage()?.setItem(TOKEN_KEY, token);
  },
  clear(): void {
    memoryToken = null;
    storage()?.removeItem(TOKEN_KEY);
  },
};
