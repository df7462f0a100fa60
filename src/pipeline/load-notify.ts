import { didYouMean } from '../params/did-you-mean.ts';
import { EVENT_TYPES, isEventType } from '../notify/event.ts';
import { FORMATS, type NotifyFormat } from '../notify/payload.ts';
import type { NotifySpec } from '../notify/webhook-spec.ts';
import { isMap } from './document-shapes.ts';
import type { ReportProblem } from './gate.ts';
import { parseSecretRef } from './secret-ref.ts';

// `spec.notify`: where a pipeline's events go (docs/notifications.md). Each problem at its
// pointer: a webhook's url, format, events and secretFrom.

const WEBHOOK_FIELDS = ['url', 'format', 'secretFrom', 'events'];

export function parseNotify(raw: unknown, report: ReportProblem): NotifySpec[] {
  if (raw === undefined) return [];
  if (!Array.isArray(raw)) {
    report('/spec/notify', { message: 'notify is a list of receivers', rule: 'type', expected: '[{webhook: {url: https://…}}]' });
    return [];
  }
  const out: NotifySpec[] = [];
  raw.forEach((item, i) => {
    const at = `/spec/notify/${i}`;
    if (!isMap(item) || !isMap(item.webhook) || Object.keys(item).length !== 1) {
      report(at, { message: 'a receiver is {webhook: {url, format?, secretFrom?, events?}}', rule: 'type', expected: 'webhook' });
      return;
    }
    const w = item.webhook;
    let ok = true;
    const problem = (pointer: string, p: Parameters<ReportProblem>[1]) => {
      ok = false;
      report(pointer, p);
    };
    for (const key of Object.keys(w)) {
      if (!WEBHOOK_FIELDS.includes(key)) {
        const near = didYouMean(key, WEBHOOK_FIELDS);
        problem(`${at}/webhook/${key}`, { message: `unknown webhook field "${key}"`, rule: 'additionalProperties', expected: WEBHOOK_FIELDS.join(', '), ...(near && { hint: `did you mean "${near}"?` }) });
      }
    }
    const url = typeof w.url === 'string' ? w.url.trim() : '';
    if (!/^https?:\/\/[^/\s]+/i.test(url)) problem(`${at}/webhook/url`, { message: 'a webhook needs an http(s) URL', rule: 'pattern', expected: 'https://hooks.example/promote', actual: typeof w.url === 'string' ? `a string of ${w.url.length} characters (not shown: a webhook URL can be its own secret)` : JSON.stringify(w.url ?? null) });
    const format = w.format ?? 'json';
    if (!(FORMATS as readonly unknown[]).includes(format)) {
      const near = typeof format === 'string' ? didYouMean(format, [...FORMATS]) : undefined;
      problem(`${at}/webhook/format`, { message: `unknown webhook format ${JSON.stringify(format)}`, rule: 'enum', expected: FORMATS.join(' | '), actual: JSON.stringify(format), ...(near && { hint: `did you mean "${near}"?` }) });
    }
    let events: NotifySpec['webhook']['events'];
    if (w.events !== undefined) {
      if (!Array.isArray(w.events) || !w.events.length) problem(`${at}/webhook/events`, { message: 'events lists the events this webhook receives (leave it out for all)', rule: 'type', expected: EVENT_TYPES.join(', ') });
      else {
        w.events.forEach((e, j) => {
          if (!isEventType(e)) {
            const near = typeof e === 'string' ? didYouMean(e, [...EVENT_TYPES]) : undefined;
            problem(`${at}/webhook/events/${j}`, { message: `unknown event ${JSON.stringify(e)}`, rule: 'enum', expected: EVENT_TYPES.join(', '), actual: JSON.stringify(e), ...(near && { hint: `did you mean "${near}"?` }) });
          }
        });
        events = [...new Set(w.events.filter(isEventType))];
      }
    }
    const secretFrom = w.secretFrom === undefined ? undefined : parseSecretRef(w.secretFrom, `${at}/webhook/secretFrom`, (p, x) => problem(p, x));
    if (!ok) return;
    out.push({ webhook: { url, format: format as NotifyFormat, ...(secretFrom && { secretFrom }), ...(events && { events }) } });
  });
  return out;
}
