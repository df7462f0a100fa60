import { formatPointer, pointerSegments } from './pointer.ts';

// What changed between two sets of parameter values, named by JSON pointer (RFC 6901) as every
// other problem and path in promote is: the one parameter diff (`promote plan`, the ledger's
// Parameters-Changed trailers, `promote diff-env`). A secret parameter only ever holds a
// reference, {secretRef: {name, key}} (src/params/parameter-schema.ts); it is compared and shown
// as one value — by name — and anything else found at a secret's place is masked, never printed.

export interface ParameterDifference {
  /** JSON pointer into the parameter values, e.g. `/replicas` or `/db/port`. */
  pointer: string;
  before?: unknown;
  after?: unknown;
}

export const MASKED = '(secret value, not shown)';

function isSecretRef(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && keys[0] === 'secretRef';
}

/** `secrets` patterns are pointers where `*` stands for any key or index. */
function isSecretPointer(segments: string[], secrets: string[][]): boolean {
  return secrets.some((s) => s.length === segments.length && s.every((p, i) => p === '*' || p === segments[i]));
}

/** Leaves by pointer: the value compared, and the value shown (masked where it must not be). */
function flatten(value: unknown, segments: string[], secrets: string[][], out: Map<string, { value: unknown; shown: unknown }>): void {
  const secret = isSecretPointer(segments, secrets);
  if (!secret && !isSecretRef(value) && value !== null && typeof value === 'object' && !Array.isArray(value) && Object.keys(value).length) {
    for (const [k, v] of Object.entries(value)) flatten(v, [...segments, k], secrets, out);
  } else if (segments.length) {
    out.set(formatPointer(segments), { value, shown: secret && !isSecretRef(value) ? MASKED : value });
  }
}

/**
 * Leaf by leaf (objects are walked; lists and secret references are one value each), sorted by
 * pointer. `secrets` are the schema's secret pointers (ParameterSchema.secrets).
 */
export function parameterDifferences(before: Record<string, unknown>, after: Record<string, unknown>, secrets: string[] = []): ParameterDifference[] {
  const patterns = secrets.map(pointerSegments);
  const a = new Map<string, { value: unknown; shown: unknown }>();
  const b = new Map<string, { value: unknown; shown: unknown }>();
  flatten(before, [], patterns, a);
  flatten(after, [], patterns, b);
  const out: ParameterDifference[] = [];
  for (const pointer of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const x = a.get(pointer);
    const y = b.get(pointer);
    if (x && y && JSON.stringify(x.value) === JSON.stringify(y.value)) continue;
    out.push({ pointer, ...(x && { before: x.shown }), ...(y && { after: y.shown }) });
  }
  return out;
}
