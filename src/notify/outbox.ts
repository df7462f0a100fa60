import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writtenByUser } from '../cache-root.ts';
import { writeFileAtomic } from '../write-file-atomic.ts';
import { isEventType, type NotifyEvent } from './event.ts';

// Events a receiver did not take, kept in the cache root until a later command delivers them:
// one file per (event, webhook), named so a second failure replaces the first. The webhook is
// kept as a hash of its URL — a Slack URL is itself a secret — and matched against the
// pipeline's webhooks when retried; the body is built and signed again then, never stored.
// Bounded: entries older than MAX_AGE_MS and beyond MAX_ENTRIES (oldest first) are dropped.
// An outbox entry is sent signed with the webhook's key, so one that another user could have
// written (writtenByUser) is never read.

export const MAX_ENTRIES = 500;
export const MAX_AGE_MS = 3 * 24 * 3_600_000;

export interface OutboxEntry {
  event: NotifyEvent;
  /** webhookKey() of the receiver. */
  webhook: string;
  queuedAt: string;
  /** Order among entries queued in the same millisecond (one command's events). */
  seq?: number;
  attempts: number;
  lastError: string;
}

export function webhookKey(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 24);
}

export class Outbox {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  private file(entry: Pick<OutboxEntry, 'event' | 'webhook'>): string {
    return join(this.dir, `${entry.event.id.replace(/[^A-Za-z0-9-]/g, '')}-${entry.webhook}.json`);
  }

  async put(entry: OutboxEntry): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file(entry), JSON.stringify(entry), { mode: 0o600 });
  }

  async remove(entry: Pick<OutboxEntry, 'event' | 'webhook'>): Promise<void> {
    await rm(this.file(entry), { force: true });
  }

  /** Entries in the order they were queued, after dropping those past the bounds (returned as `dropped`). */
  async list(now: Date): Promise<{ entries: OutboxEntry[]; dropped: OutboxEntry[] }> {
    if (!writtenByUser(await lstat(this.dir).catch(() => undefined), 'directory')) return { entries: [], dropped: [] };
    const entries: OutboxEntry[] = [];
    for (const name of (await readdir(this.dir)).filter((n) => n.endsWith('.json'))) {
      const path = join(this.dir, name);
      if (!writtenByUser(await lstat(path).catch(() => undefined), 'file')) continue;
      const entry = parseEntry(await readFile(path, 'utf8').catch(() => ''));
      if (entry) entries.push(entry);
      else await rm(path, { force: true });
    }
    entries.sort((a, b) => a.queuedAt.localeCompare(b.queuedAt) || (a.seq ?? 0) - (b.seq ?? 0));
    const dropped: OutboxEntry[] = [];
    const kept = entries.filter((e) => {
      const old = now.getTime() - Date.parse(e.queuedAt) > MAX_AGE_MS;
      if (old) dropped.push(e);
      return !old;
    });
    while (kept.length > MAX_ENTRIES) dropped.push(kept.shift()!);
    for (const e of dropped) await this.remove(e);
    return { entries: kept, dropped };
  }
}

function parseEntry(text: string): OutboxEntry | undefined {
  try {
    const v = JSON.parse(text) as Partial<OutboxEntry>;
    const e = v.event as Partial<NotifyEvent> | undefined;
    if (!e || typeof e.id !== 'string' || !isEventType(e.type) || typeof e.pipeline !== 'string' || typeof e.summary !== 'string' || typeof e.time !== 'string') return undefined;
    if (typeof v.webhook !== 'string' || typeof v.queuedAt !== 'string' || Number.isNaN(Date.parse(v.queuedAt))) return undefined;
    return { event: e as NotifyEvent, webhook: v.webhook, queuedAt: v.queuedAt, ...(typeof v.seq === 'number' && { seq: v.seq }), attempts: typeof v.attempts === 'number' ? v.attempts : 0, lastError: typeof v.lastError === 'string' ? v.lastError : '' };
  } catch {
    return undefined;
  }
}
