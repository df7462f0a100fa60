import { isDeepStrictEqual } from 'node:util';
import { appendPointer } from '../params/pointer.ts';
import { describeObject, objectKey, refOf, type ObjectRef } from './import-input.ts';

// The proof's comparison: does what the bundle renders for an environment mean what the copy
// rendered? Objects are paired by group, kind, namespace and name and compared as parsed values —
// key order, quoting and YAML style do not matter, a list's order does (Kubernetes reads it so).
// Values the import left out on purpose (secrets: plan-import.ts `withheld`) are not differences.
// No value is ever part of the result: a difference names its object and JSON pointer only, so a
// report cannot leak a secret.

export interface ObjectDifference {
  object: string;
  pointer: string;
  /** missing: the copy has it, the bundle does not; extra: the other way round; changed: both, not equal. */
  change: 'changed' | 'missing' | 'extra';
}

export interface EnvironmentComparison {
  environment: string;
  /** Objects of the copy that the bundle renders equal. */
  equal: number;
  /** Objects both render, with differences. */
  different: number;
  /** Objects of the copy the bundle does not render. */
  missing: number;
  /** Objects the bundle renders that the copy does not. */
  extra: number;
  differences: ObjectDifference[];
  missingObjects: string[];
  extraObjects: string[];
  /** What was not compared because the import leaves it out on purpose. */
  withheld: { object: string; pointer: string }[];
  equivalent: boolean;
}

export interface Withheld {
  object: ObjectRef;
  /** '' for the whole object. */
  pointer: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function under(pointer: string, withheld: readonly string[]): boolean {
  return withheld.some((w) => pointer === w || pointer.startsWith(`${w}/`));
}

/** The differences between two values, as pointers; `skip` are pointers not compared. */
export function valueDifferences(expected: unknown, actual: unknown, skip: readonly string[] = [], pointer = ''): { pointer: string; change: ObjectDifference['change'] }[] {
  if (under(pointer, skip)) return [];
  if (isObject(expected) && isObject(actual)) {
    const out: { pointer: string; change: ObjectDifference['change'] }[] = [];
    for (const k of Object.keys(expected)) {
      const p = appendPointer(pointer, k);
      if (!Object.hasOwn(actual, k)) {
        if (!under(p, skip)) out.push({ pointer: p, change: 'missing' });
      } else out.push(...valueDifferences(expected[k], actual[k], skip, p));
    }
    for (const k of Object.keys(actual)) {
      const p = appendPointer(pointer, k);
      if (!Object.hasOwn(expected, k) && !under(p, skip)) out.push({ pointer: p, change: 'extra' });
    }
    return out;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    const out: { pointer: string; change: ObjectDifference['change'] }[] = [];
    for (let i = 0; i < Math.max(expected.length, actual.length); i++) {
      const p = appendPointer(pointer, i);
      if (i >= actual.length) out.push({ pointer: p, change: 'missing' });
      else if (i >= expected.length) out.push({ pointer: p, change: 'extra' });
      else out.push(...valueDifferences(expected[i], actual[i], skip, p));
    }
    return out;
  }
  return isDeepStrictEqual(expected, actual) ? [] : [{ pointer, change: 'changed' }];
}

function index(values: readonly unknown[], label: string): Map<string, { name: string; value: unknown }> {
  const out = new Map<string, { name: string; value: unknown }>();
  values.forEach((value, i) => {
    const ref = refOf(value);
    // Not a Kubernetes object: paired with nothing, named by where it is.
    if ('error' in ref) out.set(`${label}\u0000${i}`, { name: `document ${i + 1} of the ${label} (${ref.error})`, value });
    else out.set(objectKey(ref), { name: describeObject(ref), value });
  });
  return out;
}

/** Compares one environment: what the copy rendered (`expected`) with what the bundle renders (`actual`). */
export function compareEnvironment(environment: string, expected: readonly unknown[], actual: readonly unknown[], withheld: readonly Withheld[] = []): EnvironmentComparison {
  const want = index(expected, 'copy');
  const got = index(actual, 'bundle');
  const result: EnvironmentComparison = { environment, equal: 0, different: 0, missing: 0, extra: 0, differences: [], missingObjects: [], extraObjects: [], withheld: [], equivalent: false };
  const skipped = new Map<string, string[]>();
  for (const w of withheld) skipped.set(objectKey(w.object), [...(skipped.get(objectKey(w.object)) ?? []), w.pointer]);
  for (const [key, { name, value }] of want) {
    const skip = skipped.get(key) ?? [];
    for (const pointer of skip) result.withheld.push({ object: name, pointer });
    if (skip.includes('')) continue;
    const other = got.get(key);
    if (!other) {
      result.missing++;
      result.missingObjects.push(name);
      continue;
    }
    const diffs = valueDifferences(value, other.value, skip);
    if (diffs.length === 0) result.equal++;
    else {
      result.different++;
      for (const d of diffs) result.differences.push({ object: name, ...d });
    }
  }
  for (const [key, { name }] of got) {
    if (want.has(key)) continue;
    result.extra++;
    result.extraObjects.push(name);
  }
  result.equivalent = result.different === 0 && result.missing === 0 && result.extra === 0;
  return result;
}
