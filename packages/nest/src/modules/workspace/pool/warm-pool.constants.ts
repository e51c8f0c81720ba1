/**
 * Owner of the warm pool's sessions: a system account created by migration 1733100000000 that can
 * never log in (its password hash matches no password). Pooled workspaces are ordinary session
 * rows owned by it, so every job that reconciles sessions covers the pool too; a claim moves the
 * row to the user in one conditional UPDATE. User quotas count only the user's own rows.
 */
export const POOL_USER_ID = '00000000-0000-4000-8000-00000000b001';

/** Email of {@link POOL_USER_ID}; `.invalid` is reserved (RFC 2606), so no real person registers it. */
export const POOL_USER_EMAIL = 'warm-pool@system.invalid';

/**
 * CPU weight of a pool workspace while it starts (a user's is WORKSPACE_CPU_SHARES, 512 by default):
 * under contention a refill yields the CPU to user starts and running sessions. A claim restores
 * the user's allocation.
 */
export const POOL_CPU_SHARES = 64;
