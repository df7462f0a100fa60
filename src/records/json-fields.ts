import { PromoteError, type ErrorCode } from '../errors.ts';

// Reading a signed predicate into its TypeScript type. A signature proves who wrote a statement,
// not that they wrote it well (another version, another tool, a bug), so every reader of a
// record, report or approval goes through one parser per format built from these checks. Each
// format's parser is a table with one entry per field of its type (`Fields<T>` makes the table
// exhaustive): a field added to a type does not compile until its parser reads it.

/** Reads one value at JSON pointer `at`, or throws FieldError. */
export type Check<T> = (value: unknown, at: string) => T;

type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];

/** One check per field of T; optional fields take a check that may return undefined. */
export type Fields<T> = { [K in keyof T]-?: K extends OptionalKeys<T> ? Check<Exclude<T[K], undefined> | undefined> : Check<T[K]> };

/** A field of the wrong shape, at a JSON pointer (RFC 6901) into the predicate. */
export class FieldError extends Error {
  readonly pointer: string;
  readonly expected: string;

  constructor(pointer: string, expected: string, found: unknown) {
    super(`${pointer || '/'} must be ${expected}, not ${describe(found)}`);
    this.pointer = pointer;
    this.expected = expected;
  }
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value).slice(0, 80)}`;
}

function escape(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

export const string: Check<string> = (v, at) => {
  if (typeof v !== 'string') throw new FieldError(at, 'a string', v);
  return v;
};

export const boolean: Check<boolean> = (v, at) => {
  if (typeof v !== 'boolean') throw new FieldError(at, 'true or false', v);
  return v;
};

/** A whole number ≥ 0 (sequences). */
export const count: Check<number> = (v, at) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new FieldError(at, 'a whole number ≥ 0', v);
  return v;
};

export function literal<const L extends string | boolean>(...values: L[]): Check<L> {
  return (v, at) => {
    if (!values.includes(v as L)) throw new FieldError(at, values.map((x) => JSON.stringify(x)).join(' or '), v);
    return v as L;
  };
}

/** Any JSON object, kept as it is (parameter values, gate evidence). */
export const anyObject: Check<Record<string, unknown>> = (v, at) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new FieldError(at, 'an object', v);
  return v as Record<string, unknown>;
};

export function optional<T>(check: Check<T>): Check<T | undefined> {
  return (v, at) => (v === undefined ? undefined : check(v, at));
}

export function arrayOf<T>(check: Check<T>): Check<T[]> {
  return (v, at) => {
    if (!Array.isArray(v)) throw new FieldError(at, 'an array', v);
    return v.map((item, i) => check(item, `${at}/${i}`));
  };
}

/**
 * An object with exactly the fields of the table: unknown fields are dropped (predicates are
 * open, verifiers ignore what they do not know), absent optional ones are left out.
 */
export function object<T>(fields: Fields<T>): Check<T> {
  return (v, at) => {
    const input = anyObject(v, at);
    const out: Record<string, unknown> = {};
    for (const [key, check] of Object.entries(fields) as [string, Check<unknown>][]) {
      const value = check(input[key], `${at}/${escape(key)}`);
      if (value !== undefined) out[key] = value;
    }
    return out as T;
  };
}

/** The error for a field of the wrong shape: a verification failure (exit 4) naming the source and the field. */
export function invalidField(err: FieldError, what: string, source: string, code: ErrorCode, hint: string): PromoteError {
  return new PromoteError(code, `${source} is not a valid ${what}: ${err.message}`, {
    outcome: 'verification',
    hint,
    problems: [{ message: err.message, pointer: err.pointer, expected: err.expected }],
    // The `record` check of signing/verification-error.ts: signed, but not the statement expected.
    details: { check: 'record', source, pointer: err.pointer },
    cause: err,
  });
}

/** Runs a format's parser over an untrusted value; nothing is trusted from a value that fails. */
export function parseFields<T>(check: Check<T>, value: unknown, what: string, source: string, code: ErrorCode, hint: string): T {
  try {
    return check(value, '');
  } catch (err) {
    if (!(err instanceof FieldError)) throw err;
    throw invalidField(err, what, source, code, hint);
  }
}
