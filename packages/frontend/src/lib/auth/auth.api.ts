import { API_PREFIX, type AuthCredentials, type AuthTokenResponse, type UserProfile } from '@builder/shared';
import { defaultHttpClient } from '@/lib/api/default-client';
import type { CallOptions, HttpClient } from '@/lib/api/http-client';

export interface AuthApi {
  register(credentials: AuthCredentials, options?: CallOptions): Promise<AuthTokenResponse>;
  login(credentials: AuthCredentials, options?: CallOptions): Promise<AuthTokenResponse>;
  me(options?: CallOptions): Promise<UserProfile>;
}

export function createAuthApi(http: HttpClient): AuthApi {
  return {
    // Not retried by default: a repeat after a lost answer would fail as "email already taken".
    register: (credentials, options) =>
      http.request(`${API_PREFIX}/auth/register`, {
        retries: 0,
        ...options,
        method: 'POST',
        body: credentials,
        auth: false,
      }),
    login: (credentials, options) =>
      http.request(`${API_PREFIX}/auth/login`, {
        ...options,
        method: 'POST',
        body: credentials,
        auth: false,
      }),
    me: (options) => http.request(`${API_PREFIX}/auth/me`, options),
  };
}

export const register = (credentials: AuthCredentials, options?: CallOptions): Promise<AuthTokenResponse> =>
  createAuthApi(defaultHttpClient()).register(credentials, options);

export const login = (credentials: AuthCredentials, options?: CallOptions): Promise<AuthTokenResponse> =>
  createAuthApi(defaultHttpClient()).login(credentials, options);

export const getProfile = (options?: CallOptions): Promise<UserProfile> =>
  createAuthApi(defaultHttpClient()).me(options);
