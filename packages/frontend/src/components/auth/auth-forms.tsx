'use client';

import { useRouter } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import type { AuthCredentials, AuthTokenResponse } from '@builder/shared';
import { errorMessage } from '@/lib/api/api-error';
import { login, register } from '@/lib/auth/auth.api';
import { tokenStore } from '@/lib/auth/token.store';

type Mode = 'login' | 'register';

const TITLES: Record<Mode, { heading: string; submit: string }> = {
  login: { heading: 'Sign in', submit: 'Sign in' },
  register: { heading: 'Create an account', submit: 'Sign up' },
};

/** Sign-in and sign-up forms; either stores the token and opens the page the user came for. */
export function AuthForms() {
  const router = useRouter();

  const onAuthenticated = ({ accessToken }: AuthTokenResponse): void => {
    tokenStore.set(accessToken);
    router.replace(safeNextPath(new URLSearchParams(window.location.search).get('next')));
  };

  return (
    <div className="grid w-full max-w-3xl gap-6 md:grid-cols-2">
      <CredentialsForm mode="login" submit={login} onAuthenticated={onAuthenticated} />
      <CredentialsForm mode="register" submit={register} onAuthenticated={onAuthenticated} />
    </div>
  );
}

interface CredentialsFormProps {
  mode: Mode;
  submit: (credentials: AuthCredentials) => Promise<AuthTokenResponse>;
  onAuthenticated: (response: AuthTokenResponse) => void;
}

function CredentialsForm({ mode, submit, onAuthenticated }: CredentialsFormProps) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string | null>(null);

  const onSubmit = async (event: FormEvent<HTMLFormElement>): Promise<void> => {
    event.preventDefault();
    setPending(true);
    setError(null);
    try {
      onAuthenticated(await submit({ email, password }));
    } catch (err) {
      setError(errorMessage(err));
      setPending(false);
    }
  };

  return (
    <form
      onSubmit={(event) => void onSubmit(event)}
      className="space-y-4 rounded-lg border border-gray-200 bg-white p-6 shadow-sm"
      data-testid={`${mode}-form`}
    >
      <h1 className="text-lg font-semibold">{TITLES[mode].heading}</h1>
      <label className="block text-sm">
        <span className="text-gray-700">Email</span>
        <input
          type="email"
          required
          autoComplete="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          className="mt-1 w-full rounded-md border border-gray-300 px-3 py-2 focus:border-gray-500 focus:outline-none"
          data-testid={`${mode}-email`}
        />
      </label>
      <label className="block text-sm">
        <span className="text-gray-700">Password</span>
        <input
          type="password"
          required
          autoComplete={mode === 'register' ? 'new-password' : 'current-password'}
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          className="mt-1 w-full rounded-md border border-gray-300 px-3 py-2 focus:border-gray-500 focus:outline-none"
          data-testid={`${mode}-password`}
        />
      </label>
      {error && (
        <p role="alert" className="text-sm text-red-600" data-testid={`${mode}-error`}>
          {error}
        </p>
      )}
      <button
        type="submit"
        disabled={pending}
        className="w-full rounded-md bg-gray-900 px-3 py-2 text-sm font-medium text-white hover:bg-gray-700 disabled:opacity-50"
        data-testid={`${mode}-submit`}
      >
        {pending ? 'Please wait…' : TITLES[mode].submit}
      </button>
    </form>
  );
}

/** Only same-site paths: `next` comes from the URL and must not send the user elsewhere. */
function safeNextPath(next: string | null): string {
  if (next && /^\/(?![/\\])/.test(next) && !next.startsWith('/login')) return next;
  return '/builder';
}
