import type { GateKind } from '../gate.ts';
import { checkSettings } from './settings.ts';

// `window: {days: [Mon-Thu], hours: "09:00-16:00", timezone: Europe/Berlin}`: promotion only
// inside a change window, judged on the *local* wall clock of the timezone. Intl applies the
// IANA rules, so "09:00 in Berlin" is 08:00 UTC in winter and 07:00 UTC in summer, and on the
// night the clocks change a window keeps its local meaning. When hours end at or before they
// start ("22:00-02:00") the window runs past midnight and belongs to the day it opened.

export type Weekday = 'Mon' | 'Tue' | 'Wed' | 'Thu' | 'Fri' | 'Sat' | 'Sun';

export interface WindowGateSpec {
  type: 'window';
  days: Weekday[];
  /** Minutes after local midnight; `end <= start` means the window runs past midnight. */
  start: number;
  end: number;
  /** As written, `HH:MM-HH:MM`. */
  hours: string;
  timezone: string;
}

const WEEKDAYS: readonly Weekday[] = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'];

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timezone: string): Intl.DateTimeFormat {
  let f = formatters.get(timezone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      weekday: 'short',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'shortOffset',
    });
    formatters.set(timezone, f);
  }
  return f;
}

export interface LocalTime {
  weekday: Weekday;
  /** Minutes after local midnight. */
  minutes: number;
  /** `2026-03-30 09:30 GMT+2`, for evidence. */
  text: string;
}

export function localTime(instant: Date, timezone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatter(timezone).formatToParts(instant)) parts[p.type] = p.value;
  const hour = Number(parts.hour) % 24;
  const minute = Number(parts.minute);
  return {
    weekday: parts.weekday as Weekday,
    minutes: hour * 60 + minute,
    text: `${parts.year}-${parts.month}-${parts.day} ${String(hour).padStart(2, '0')}:${parts.minute} ${parts.timeZoneName}`,
  };
}

function previousDay(day: Weekday): Weekday {
  return WEEKDAYS[(WEEKDAYS.indexOf(day) + 6) % 7]!;
}

export function isOpen(spec: WindowGateSpec, instant: Date): boolean {
  const { weekday, minutes } = localTime(instant, spec.timezone);
  if (spec.start < spec.end) return spec.days.includes(weekday) && minutes >= spec.start && minutes < spec.end;
  return (spec.days.includes(weekday) && minutes >= spec.start) || (spec.days.includes(previousDay(weekday)) && minutes < spec.end);
}

/** The first minute at or after `from` when the window is open, within 8 days; else undefined. */
export function nextOpening(spec: WindowGateSpec, from: Date): Date | undefined {
  const t = new Date(Math.ceil(from.getTime() / 60_000) * 60_000);
  // Every change of local time (DST included) happens on a whole quarter hour in every IANA
  // zone, and windows are written in whole minutes, so stepping a minute at a time is exact;
  // 15-minute strides first keep this cheap, then we walk back to the first open minute.
  const limit = t.getTime() + 8 * 86_400_000;
  let at = t.getTime();
  while (at <= limit && !isOpen(spec, new Date(at))) at += 15 * 60_000;
  if (at > limit) return undefined;
  while (at - 60_000 >= t.getTime() && isOpen(spec, new Date(at - 60_000))) at -= 60_000;
  return new Date(at);
}

function parseHour(text: string): number | undefined {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim());
  if (!m) return undefined;
  const h = Number(m[1]);
  const min = Number(m[2]);
  if (min > 59 || h > 24 || (h === 24 && min > 0)) return undefined;
  return h * 60 + min;
}

function parseDays(raw: unknown): Weekday[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) return undefined;
  const days = new Set<Weekday>();
  for (const item of raw) {
    if (typeof item !== 'string') return undefined;
    const [a, b] = item.split('-').map((s) => s.trim());
    const i = WEEKDAYS.indexOf(a as Weekday);
    const j = b === undefined ? i : WEEKDAYS.indexOf(b as Weekday);
    if (i < 0 || j < 0) return undefined;
    for (let k = i; ; k = (k + 1) % 7) {
      days.add(WEEKDAYS[k]!);
      if (k === j) break;
    }
  }
  return WEEKDAYS.filter((d) => days.has(d));
}

function isValidTimezone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const windowGate: GateKind<WindowGateSpec, never> = {
  type: 'window',
  schema: {
    type: 'object',
    required: ['days', 'hours', 'timezone'],
    additionalProperties: false,
    properties: {
      days: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...WEEKDAYS] } },
      hours: { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-4]):[0-5][0-9]$', description: 'HH:MM-HH:MM in the timezone.' },
      timezone: { type: 'string', minLength: 1, description: 'IANA time zone, e.g. Europe/Berlin.' },
    },
  },
  facts: [],
  beyondSchema: ['gate-window-timezone'],
  parse(raw, pointer, report) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      report(pointer, { message: 'window takes a mapping', rule: 'gate-window', expected: '{days: [Mon-Fri], hours: "09:00-16:00", timezone: Europe/Berlin}', actual: JSON.stringify(raw) });
      return undefined;
    }
    const value = raw as Record<string, unknown>;
    let ok = checkSettings(value, 'window', ['days', 'hours', 'timezone'], pointer, report, 'days, hours or timezone');
    const days = value.days === undefined ? [...WEEKDAYS] : parseDays(value.days);
    if (!days) {
      report(`${pointer}/days`, { message: 'days must be a list of weekdays or ranges', rule: 'gate-window-days', expected: 'e.g. [Mon, Tue] or [Mon-Fri]', actual: JSON.stringify(value.days) });
      ok = false;
    }
    const hours = typeof value.hours === 'string' ? value.hours : value.hours === undefined ? '00:00-24:00' : undefined;
    const [s, e] = hours?.split('-') ?? [];
    const start = s === undefined ? undefined : parseHour(s);
    const end = e === undefined ? undefined : parseHour(e);
    if (hours === undefined || start === undefined || end === undefined || start === end || start === 24 * 60) {
      report(`${pointer}/hours`, { message: 'hours must be a local time range', rule: 'gate-window-hours', expected: '"HH:MM-HH:MM", e.g. "09:00-16:00"', actual: JSON.stringify(value.hours) });
      ok = false;
    }
    const timezone = value.timezone;
    if (typeof timezone !== 'string' || !isValidTimezone(timezone)) {
      report(`${pointer}/timezone`, {
        message: timezone === undefined ? 'window needs a timezone' : `unknown timezone ${JSON.stringify(timezone)}`,
        rule: 'gate-window-timezone',
        expected: 'an IANA timezone such as Europe/Berlin or UTC',
        ...(timezone !== undefined && { actual: JSON.stringify(timezone) }),
        hint: 'a named zone follows daylight saving time; a fixed offset such as Etc/GMT-1 does not',
      });
      ok = false;
    }
    if (!ok) return undefined;
    return { type: 'window', days: days!, start: start!, end: end!, hours: hours!, timezone: timezone as string };
  },
  title: (spec) => `window ${spec.days.join(',')} ${spec.hours} ${spec.timezone}`,
  async evaluate(spec, ctx) {
    const local = localTime(ctx.now, spec.timezone);
    const passed = isOpen(spec, ctx.now);
    const gate = windowGate.title(spec);
    const evidence: Record<string, unknown> = { days: spec.days, hours: spec.hours, timezone: spec.timezone, now: ctx.now.toISOString(), localTime: local.text };
    if (passed) return { gate, type: 'window', passed, summary: `open: it is ${local.weekday} ${local.text} in ${spec.timezone}`, evidence };
    const next = nextOpening(spec, ctx.now);
    if (next) evidence.nextOpening = next.toISOString();
    const when = next ? `; opens ${localTime(next, spec.timezone).text} (${next.toISOString()})` : '';
    return { gate, type: 'window', passed, summary: `closed: it is ${local.weekday} ${local.text} in ${spec.timezone}${when}`, evidence };
  },
};
