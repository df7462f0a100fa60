import type { EventType } from './event.ts';
import type { NotifyFormat } from './payload.ts';

// `spec.notify` of a pipeline, as the loader (pipeline/load.ts) returns it: plain data. The
// secret is named by where it is read from (pipeline/secret-ref.ts's form), never held.

export interface WebhookSpec {
  url: string;
  format: NotifyFormat;
  secretFrom?: { env: string } | { file: string };
  /** Undefined: every event. */
  events?: EventType[];
}

export interface NotifySpec {
  webhook: WebhookSpec;
}
