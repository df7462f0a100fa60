// Bounded parallelism for blob transfers: a bundle's config and content layer (or an image's
// layers) are independent uploads, and one at a time leaves the connection idle for a round
// trip per blob. A few at once, as skopeo and containerd do, not all: a registry throttles a
// client that opens dozens of uploads.

export const BLOB_CONCURRENCY = 4;

/** Calls `fn` on every item, at most `limit` at a time; rejects with the first failure once all have settled. */
export async function forEachConcurrently<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  const settled = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const failed = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) throw failed.reason;
}
