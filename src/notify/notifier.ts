import type { ErrorCode } from '../errors.ts';
import { redact } from '../redact.ts';
import type { EventType, NotifyEvent } from './event.ts';
import { Outbox, webhookKey, type OutboxEntry } from './outbox.ts';
import { payloadFor, type NotifyFormat } from './payload.ts';
import { DEFAULT_RETRY, post, shownUrl, type RetryPolicy } from './post.ts';
import { signBody, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './signature.ts';

// Sending events to a pipeline's webhooks: what the outbox holds first (oldest first), then the
// new events, each webhook in its own order and all webhooks at once, within one time budget.
// The caller has made its change durable before calling: nothing here can fail it, a receiver
// that does not take an event only costs a warning and an outbox entry.

export interface Webhook {
  url: string;
  format: NotifyFormat;
  /** Which events it receives; undefined: all. */
  events?: readonly EventType[];
  /** The HMAC key, read when a body is signed; undefined: bodies are not signed. */
  secret?: () => Promise<string>;
}

export interface NotifierOptions {
  webhooks: readonly Webhook[];
  outbox: Outbox;
  /** One line per webhook that did not take an event (stderr). */
  warn: (message: string) => void;
  retry?: RetryPolicy;
  /** The most time one call may spend on deliveries, retries included. */
  budgetMs?: number;
  now?: () => Date;
  userAgent?: string;
}

export const DEFAULT_BUDGET_MS = 15_000;

const NOT_DELIVERED: ErrorCode = 'NOTIFY_NOT_DELIVERED';

export interface NotifyReport {
  delivered: number;
  /** Left in (or put into) the outbox for a later command. */
  queued: number;
  /** Outbox entries dropped: too old, too many, or for a webhook the pipeline no longer has. */
  dropped: number;
}

export function wants(webhook: Webhook, type: EventType): boolean {
  return !webhook.events || webhook.events.includes(type);
}

export async function sendEvents(events: readonly NotifyEvent[], options: NotifierOptions): Promise<NotifyReport> {
  const now = options.now ?? (() => new Date());
  const deadline = Date.now() + (options.budgetMs ?? DEFAULT_BUDGET_MS);
  const retry = options.retry ?? DEFAULT_RETRY;
  const report: NotifyReport = { delivered: 0, queued: 0, dropped: 0 };
  const byKey = new Map(options.webhooks.map((w) => [webhookKey(w.url), w]));
  const { entries, dropped } = await options.outbox.list(now());
  report.dropped += dropped.length;
  const queues = new Map<string, OutboxEntry[]>();
  for (const entry of entries) {
    if (!byKey.has(entry.webhook)) {
      await options.outbox.remove(entry);
      report.dropped++;
      continue;
    }
    queues.set(entry.webhook, [...(queues.get(entry.webhook) ?? []), entry]);
  }
  const queuedAt = now().toISOString();
  events.forEach((event, seq) => {
    for (const [key, webhook] of byKey) {
      if (wants(webhook, event.type)) queues.set(key, [...(queues.get(key) ?? []), { event, webhook: key, queuedAt, seq, attempts: 0, lastError: '' }]);
    }
  });
  if (dropped.length) options.warn(`warning: notify: dropped ${dropped.length} queued notification${dropped.length === 1 ? '' : 's'} older than the outbox keeps, or beyond its size`);
  const stored = new Set(entries);
  await Promise.all([...queues].map(async ([key, queue]) => {
    const webhook = byKey.get(key)!;
    let failure: string | undefined;
    for (const entry of queue) {
      let attempts = 0;
      // After one failure, the rest wait in the outbox: a receiver that is down costs one
      // round of retries per command, not one per event.
      if (failure === undefined) {
        const result = await post({ url: webhook.url, build: () => request(entry.event, webhook, now(), options.userAgent) }, retry, deadline);
        if (result.delivered) {
          report.delivered++;
          if (stored.has(entry)) await options.outbox.remove(entry);
          continue;
        }
        attempts = result.attempts;
        failure = redact(result.error);
        options.warn(`warning: notify: ${entry.event.type} event for ${shownUrl(webhook.url)} not delivered after ${attempts} attempt${attempts === 1 ? '' : 's'}: ${failure}; kept in ${options.outbox.dir} for the next command (${NOT_DELIVERED})`);
      }
      report.queued++;
      const lastError = attempts ? failure : `not sent: an earlier event to this receiver failed (${failure})`;
      await options.outbox.put({ ...entry, attempts: entry.attempts + attempts, lastError }).catch((err: unknown) => {
        options.warn(`warning: notify: cannot keep the ${entry.event.type} event in the outbox: ${redact(err instanceof Error ? err.message : String(err))}`);
      });
    }
  }));
  return report;
}

async function request(event: NotifyEvent, webhook: Webhook, sentAt: Date, userAgent = 'promote'): Promise<{ body: string; headers: Record<string, string> }> {
  const { body, contentType } = payloadFor(event, webhook.format, sentAt);
  const headers: Record<string, string> = {
    'content-type': contentType,
    'user-agent': userAgent,
    'x-promote-event': event.type,
    'x-promote-delivery': event.id,
    [TIMESTAMP_HEADER]: String(Math.floor(sentAt.getTime() / 1000)),
  };
  if (webhook.secret) headers[SIGNATURE_HEADER] = signBody(body, await webhook.secret());
  return { body, headers };
}
