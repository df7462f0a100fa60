import { isDeepStrictEqual } from 'node:util';
import { appendPointer } from '../params/pointer.ts';
import { findSecret, secretKeyFor, type SecretFound } from './secret-values.ts';

// One object as the environments have it, walked together: what is the same everywhere stays
// written out (a literal), every place that differs becomes an occurrence of a parameter. The
// rules, in order:
// - mappings are walked key by key; a key only some environments have is one nullable value
//   (its null drops the key when rendered: conditional keys of issue 15);
// - lists whose items all have a `name` (containers, env, ports, volumes) are walked item by item
//   when every environment names the same items in the same order; other lists index by index
//   when they are as long everywhere; otherwise the whole list is one value;
// - scalars that differ are one value each.
// A null cannot be a parameter's value where a null drops the key, so a value that is null in one
// environment and not in another makes the mapping or list around it the value instead; at the
// top of the object that is impossible, and the place is reported as inexpressible.
// Secret-looking values (secret-values.ts) become occurrences even where every environment
// agrees: they must not be written into the bundle either.

/** Where an environment's mapping lacks the key (the object itself is there). */
export const ABSENT: unique symbol = Symbol('absent');

/** One step of a path inside an object: a key, a named list item, or a list index. */
export type Segment = { key: string } | { item: string; index: number } | { index: number };

export interface Occurrence {
  /** Index of the matched object. */
  object: number;
  segments: Segment[];
  /** JSON pointer inside the object. */
  pointer: string;
  /** One per environment: the value, ABSENT where the key is missing, undefined where the object is. */
  values: unknown[];
  /** Some environment lacks the key: the parameter's null drops it. */
  nullable: boolean;
  /** A secret-looking value inside (pointer relative to the object). */
  secret?: SecretFound;
}

export type Template =
  | { t: 'literal'; value: unknown }
  | { t: 'map'; entries: [string, Template][] }
  | { t: 'list'; items: Template[] }
  | { t: 'occurrence'; index: number };

export interface Inexpressible {
  pointer: string;
  reason: string;
}

export interface WalkResult {
  template: Template;
  inexpressible: Inexpressible[];
}

const ESCALATE: unique symbol = Symbol('escalate');
type Walked = Template | typeof ESCALATE;

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

interface Walk {
  object: number;
  /** Environment indices that have the object; `vals` are aligned with them. */
  present: number[];
  envCount: number;
  occurrences: Occurrence[];
  inexpressible: Inexpressible[];
}

function occurrence(w: Walk, vals: readonly unknown[], segments: Segment[], pointer: string, key: string | undefined): Template {
  const values: unknown[] = new Array(w.envCount).fill(undefined);
  w.present.forEach((env, i) => (values[env] = vals[i]));
  const nullable = vals.includes(ABSENT);
  let secret: Occurrence['secret'];
  for (const v of vals) {
    const found = v === ABSENT ? undefined : findSecret(v, key);
    if (found) {
      secret = { ...found, pointer: pointer + found.pointer };
      break;
    }
  }
  w.occurrences.push({ object: w.object, segments, pointer, values, nullable, ...(secret && { secret }) });
  return { t: 'occurrence', index: w.occurrences.length - 1 };
}

/** A child that could not be expressed at its own level: the whole child is the value, if no environment's is null. */
function settle(w: Walk, walked: Walked, vals: readonly unknown[], segments: Segment[], pointer: string, key: string | undefined, root: boolean): Walked {
  if (walked !== ESCALATE) return walked;
  if (!vals.includes(null)) return occurrence(w, vals, segments, pointer, key);
  if (!root) return ESCALATE;
  w.inexpressible.push({ pointer, reason: 'null in some environments and not in others, at the top of the object (a null parameter would drop the key, not keep it as null)' });
  return { t: 'literal', value: vals[0] };
}

function walkNode(w: Walk, vals: readonly unknown[], segments: Segment[], pointer: string, key: string | undefined, root: boolean): Walked {
  const first = vals[0];
  if (vals.every((v) => isDeepStrictEqual(v, first)) && !findSecret(first, key)) return { t: 'literal', value: first };
  if (vals.every(isObject)) return walkMap(w, vals as Record<string, unknown>[], segments, pointer, root);
  if (vals.every(Array.isArray)) return walkList(w, vals as unknown[][], segments, pointer, key);
  if (vals.includes(null)) return ESCALATE;
  return occurrence(w, vals, segments, pointer, key);
}

function walkMap(w: Walk, vals: readonly Record<string, unknown>[], segments: Segment[], pointer: string, root: boolean): Walked {
  const keys: string[] = [];
  const seen = new Set<string>();
  for (const v of vals) {
    for (const k of Object.keys(v)) {
      if (seen.has(k)) continue;
      seen.add(k);
      keys.push(k);
    }
  }
  const entries: [string, Template][] = [];
  for (const k of keys) {
    const childSegments = [...segments, { key: k }];
    const childPointer = appendPointer(pointer, k);
    const childKey = secretKeyFor(vals[0]!, k);
    const childVals = vals.map((v) => (Object.hasOwn(v, k) ? v[k] : ABSENT));
    let walked: Walked;
    if (!childVals.includes(ABSENT)) walked = walkNode(w, childVals, childSegments, childPointer, childKey, false);
    else if (childVals.includes(null) || childVals.some((v) => v !== ABSENT && findSecret(v, childKey))) {
      // A null to keep beside a key to drop, or a secret (a secretRef is never null): not here.
      walked = ESCALATE;
    } else walked = occurrence(w, childVals, childSegments, childPointer, childKey);
    if (walked === ESCALATE && childVals.includes(ABSENT)) {
      if (!root) return ESCALATE;
      w.inexpressible.push({ pointer: childPointer, reason: 'a key some environments lack holds a null or a secret-looking value elsewhere, at the top of the object' });
      walked = { t: 'literal', value: childVals.find((v) => v !== ABSENT) };
    }
    const settled = settle(w, walked, childVals, childSegments, childPointer, childKey, root);
    if (settled === ESCALATE) return ESCALATE;
    entries.push([k, settled]);
  }
  return { t: 'map', entries };
}

/** The item names of a list of named objects, if every item has a distinct string `name`. */
function itemNames(list: readonly unknown[]): string[] | undefined {
  const names: string[] = [];
  for (const item of list) {
    if (!isObject(item) || typeof item.name !== 'string') return undefined;
    names.push(item.name);
  }
  return new Set(names).size === names.length ? names : undefined;
}

function walkList(w: Walk, vals: readonly unknown[][], segments: Segment[], pointer: string, key: string | undefined): Walked {
  const names = vals.map(itemNames);
  const byName = names[0] !== undefined && names.every((n) => isDeepStrictEqual(n, names[0]));
  const sameLength = vals.every((v) => v.length === vals[0]!.length);
  if (!byName && !sameLength) return occurrence(w, vals, segments, pointer, key);
  const items: Template[] = [];
  for (let i = 0; i < vals[0]!.length; i++) {
    const seg: Segment = byName ? { item: names[0]![i]!, index: i } : { index: i };
    const childSegments = [...segments, seg];
    const childPointer = appendPointer(pointer, i);
    const childVals = vals.map((v) => v[i]);
    const settled = settle(w, walkNode(w, childVals, childSegments, childPointer, key, false), childVals, childSegments, childPointer, key, false);
    if (settled === ESCALATE) return ESCALATE;
    items.push(settled);
  }
  return { t: 'list', items };
}

/**
 * Walks one object's values (one per environment in `present`, in that order); the occurrences
 * found are appended to `occurrences`, and the template's occurrence indices point there.
 */
export function walkObject(object: number, present: number[], envCount: number, vals: readonly Record<string, unknown>[], occurrences: Occurrence[]): WalkResult {
  const w: Walk = { object, present, envCount, occurrences, inexpressible: [] };
  const walked = walkNode(w, vals, [], '', undefined, true);
  // The top of an object is a mapping in every environment: walkMap settles what escalates to it.
  if (walked === ESCALATE) throw new Error('internal: an object escalated past its top');
  return { template: walked, inexpressible: w.inexpressible };
}
