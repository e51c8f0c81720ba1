import type { Metadata } from 'next';
import { AuthForms } from '@/components/auth/auth-forms';

export const metadata: Metadata = { title: 'Sign in' };

export default function LoginPage() {
  return (
    <main className="flex min-h-full items-center justify-center p-6">
      <AuthForms />
    </main>
  );
}
