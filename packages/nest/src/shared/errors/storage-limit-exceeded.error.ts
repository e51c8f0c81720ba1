const MIB = 1024 * 1024;

/** A size for a person: MiB with at most one decimal, KiB below one MiB. */
export function formatSize(bytes: number): string {
  if (bytes < MIB) return `${Math.ceil(bytes / 1024)} KiB`;
  return `${Number((bytes / MIB).toFixed(1))} MiB`;
}

/** A write would take a workspace's files over its storage limit (WORKSPACE_STORAGE_LIMIT_MB). 413. */
export class StorageLimitExceededError extends Error {
  constructor(
    readonly limitBytes: number,
    readonly usedBytes: number,
    readonly addedBytes: number,
  ) {
    super(
      `storage limit exceeded: the workspace's files use ${formatSize(usedBytes)} of ${formatSize(limitBytes)} ` +
        `and this write adds ${formatSize(addedBytes)}; delete files or write less`,
    );
    this.name = 'StorageLimitExceededError';
  }
}
