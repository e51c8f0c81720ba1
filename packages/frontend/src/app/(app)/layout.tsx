import type { ReactNode } from 'react';
import { AuthGuard } from '@/components/auth/auth-guard';

/** Pages of the signed-in app: the token lives in sessionStorage, so the check runs in the browser. */
export default function AppLayout({ children }: { children: ReactNode }) {
  return <AuthGuard>{children}</AuthGuard>;
}
