import type { NotifyEvent } from './event.ts';

// The bodies a webhook receives, one per format. Each body carries `sentAt`, the time of this
// delivery attempt, inside what the HMAC signs (signature.ts), so a receiver can reject a replay
// of an old delivery; the event's own `time` says when it happened (a delivery from the outbox
// may be hours later).

export const FORMATS = ['json', 'slack', 'cloudevents'] as const;
export type NotifyFormat = (typeof FORMATS)[number];

/** CloudEvents `source` (a URI-reference): the producer, and which pipeline. */
export const CLOUDEVENTS_SOURCE = 'promote';

export interface Payload {
  body: string;
  contentType: string;
}

export function payloadFor(event: NotifyEvent, format: NotifyFormat, sentAt: Date): Payload {
  const sent = sentAt.toISOString();
  switch (format) {
    case 'json':
      return { body: JSON.stringify({ ...event, sentAt: sent }), contentType: 'application/json' };
    case 'slack':
      return { body: JSON.stringify(slackMessage(event, sent)), contentType: 'application/json' };
    case 'cloudevents':
      return { body: JSON.stringify(cloudEvent(event, sent)), contentType: 'application/cloudevents+json; charset=utf-8' };
  }
}

/**
 * CloudEvents 1.0, JSON format in structured mode (cloudevents/spec json-format.md): the context
 * attributes at the top level, the event itself under `data`. `promotesentat` is an extension
 * attribute (lower-case alphanumerics, as the spec requires of attribute names).
 */
function cloudEvent(event: NotifyEvent, sentAt: string): Record<string, unknown> {
  const subject = [event.stage, event.cluster].filter(Boolean).join('/');
  return {
    specversion: '1.0',
    id: event.id,
    source: `${CLOUDEVENTS_SOURCE}/${event.pipeline}`,
    type: `dev.promote.${event.type}`,
    time: event.time,
    ...(subject && { subject }),
    datacontenttype: 'application/json',
    promotesentat: sentAt,
    data: event,
  };
}

const ICON: Record<NotifyEvent['type'], string> = {
  promoted: ':white_check_mark:',
  configured: ':gear:',
  'rolled-back': ':rewind:',
  refused: ':no_entry:',
  'approval-requested': ':raised_hand:',
  held: ':double_vertical_bar:',
  released: ':arrow_forward:',
  'agent-degraded': ':warning:',
  'agent-drifted': ':twisted_rightwards_arrows:',
  'agent-refused': ':no_entry_sign:',
  'wave-released': ':ocean:',
  'rollout-stopped': ':octagonal_sign:',
};

/** Slack treats `&`, `<` and `>` as markup (`<!channel>` pings everyone): text from outside is escaped. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * A Slack incoming-webhook message (also what Mattermost and Rocket.Chat accept): `text` is the
 * one-liner notifications show, `blocks` the same line plus the gates and digests. `metadata`
 * (Slack's message metadata) carries the event's id and the delivery time.
 */
function slackMessage(event: NotifyEvent, sentAt: string): Record<string, unknown> {
  const line = `${ICON[event.type]} ${escape(event.summary)}`;
  const blocks: Record<string, unknown>[] = [{ type: 'section', text: { type: 'mrkdwn', text: line } }];
  const failing = (event.gates ?? []).filter((g) => !g.passed);
  if (failing.length) blocks.push({ type: 'section', text: { type: 'mrkdwn', text: failing.map((g) => `• *${escape(g.gate)}*: ${escape(g.summary)}`).join('\n').slice(0, 2900) } });
  const facts = [
    `pipeline ${event.pipeline}`,
    event.stage && `stage ${event.stage}`,
    event.cluster && `cluster ${event.cluster}`,
    event.bundle && `bundle \`${event.bundle}\``,
    event.record && `record \`${event.record}\``,
    event.by && `by ${escape(event.by)}`,
  ].filter(Boolean) as string[];
  blocks.push({ type: 'context', elements: [{ type: 'mrkdwn', text: facts.join(' · ') }] });
  return { text: line, blocks, metadata: { event_type: `promote_${event.type.replace(/-/g, '_')}`, event_payload: { id: event.id, time: event.time, sentAt } } };
}
