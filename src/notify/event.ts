import { randomUUID } from 'node:crypto';
import { redactDeep } from '../redact.ts';

// The notification event, defined once: what every payload format (payload.ts) carries, what
// the outbox keeps, and what docs/notifications.md documents. Built only from facts the engine
// already shows in its output (digests, names, gate summaries) — never parameters, never a
// secret — and redacted once more on the way in, since summaries quote URLs and server replies.

export const EVENT_TYPES = ['promoted', 'configured', 'rolled-back', 'refused', 'approval-requested', 'held', 'released', 'agent-degraded', 'agent-drifted', 'agent-refused', 'wave-released', 'rollout-stopped'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** A gate's verdict as an event shows it: the summary line `promote plan` prints, no evidence. */
export interface EventGate {
  gate: string;
  type: string;
  passed: boolean;
  summary: string;
}

export interface NotifyEvent {
  /** Unique per event (a UUID): receivers dedupe retried and re-queued deliveries by it. */
  id: string;
  type: EventType;
  /** When it happened (RFC 3339 UTC); a delivery's own time is `sentAt` in the payload. */
  time: string;
  pipeline: string;
  stage?: string;
  /** Bundle digest (sha256:…) the event is about. */
  bundle?: string;
  /** Promotion record digest. */
  record?: string;
  /** The agent's cluster (agent-* events). */
  cluster?: string;
  /** The agent's phase (agent-* events). */
  phase?: string;
  /** Who did it: the ledger identity (`Name <email>`), or the agent. */
  by?: string;
  /** Why: a hold's or a forced promotion's reason, an agent's PascalCase reason. */
  reason?: string;
  /** One readable line: what happened. */
  summary: string;
  /** Gate verdicts (refused and approval-requested: the gates of the refused plan). */
  gates?: EventGate[];
  /** A rollout in waves (wave-released, rollout-stopped; promoted when it starts one): the wave released, of how many, and its clusters. */
  wave?: { wave: number; of: number; clusters: string[] };
}

export type EventFields = Omit<NotifyEvent, 'id' | 'time'> & { time?: Date };

export function newEvent(fields: EventFields): NotifyEvent {
  const { time, ...rest } = fields;
  const event: NotifyEvent = { id: randomUUID(), time: (time ?? new Date()).toISOString(), ...rest };
  if (event.gates) event.gates = event.gates.map((g) => ({ gate: g.gate, type: g.type, passed: g.passed, summary: g.summary }));
  return redactDeep(event);
}

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (EVENT_TYPES as readonly string[]).includes(value);
}
