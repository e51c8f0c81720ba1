'use client';

import { useRouter } from 'next/navigation';
import { useEffect, useState, type ReactNode } from 'react';
import { tokenStore } from '@/lib/auth/token.store';

/** Renders its children only when a token is stored; otherwise sends the user to /login. */
export function AuthGuard({ children }: { children: ReactNode }) {
  const router = useRouter();
  const [allowed, setAllowed] = useState(false);

  useEffect(() => {
    if (tokenStore.get()) {
      setAllowed(true);
      return;
    }
    const next = window.location.pathname + window.location.search;
    router.replace(`/login?next=${encodeURIComponent(next)}`);
  }, [router]);

  if (!allowed) {
    return <p className="p-6 text-sm text-gray-500">Checking your session…</p>;
  }
  return <>{children}</>;
}
