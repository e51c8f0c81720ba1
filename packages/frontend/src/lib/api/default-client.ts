import { tokenStore } from '@/lib/auth/token.store';
import { apiBaseUrl } from './api-config';
import { HttpClient } from './http-client';

let client: HttpClient | null = null;

/** The tab's client for the API, authenticated with the stored token. */
export function defaultHttpClient(): HttpClient {
  client ??= new HttpClient({ baseUrl: apiBaseUrl(), getToken: () => tokenStore.get() });
  return client;
}
