// The whole template language of promote (DESIGN.md §4), in one place:
//   ${params.a.b}   a dotted path into the parameters (numeric segments index lists)
//   ${promote.stage} ${promote.environment} ${promote.cluster} ${promote.digest}   built-ins
//   $${params.…} / $${promote.…}   an escaped reference: renders as the literal text ${params.…}
// Anything else that looks like `${…}` — `${HOME}`, `${VAR:-x}`, `${params}` — is not ours and is
// left byte for byte as written: the `params.`/`promote.` prefix is what makes substitution safe
// for shell scripts embedded in ConfigMaps (the failure Flux's envsubst-style substitution has).
// Deliberately, the escape is recognised only before our own prefixes, so `$${x}` in a script
// (PID followed by "{x}") is not changed either.

export const BUILTINS = ['stage', 'environment', 'cluster', 'digest'] as const;
export type Builtin = (typeof BUILTINS)[number];

/** Matches an optionally escaped reference; `body` is everything up to the closing brace. */
const REFERENCE = /(\$?)\$\{(params|promote)\.([^}\n]*)\}/g;
const PATH = /^([A-Za-z_][A-Za-z0-9_-]*|[0-9]+)(\.([A-Za-z_][A-Za-z0-9_-]*|[0-9]+))*$/;

export interface TemplateReference {
  /** `params` or `promote`. */
  scope: 'params' | 'promote';
  /** Path segments after the scope, e.g. ['db', 'host']. */
  path: string[];
  /** The reference as written, e.g. `${params.db.host}`. */
  text: string;
  /** Offset of `$` in the scanned string. */
  index: number;
  /** True for an escaped `$${…}`, which renders as literal text. */
  escaped: boolean;
  /** Why the reference is malformed, if it is (an unknown built-in, a bad path). */
  malformed?: string;
}

/** Quick test: can this text contain anything the renderer changes? */
export function hasTemplateSyntax(text: string): boolean {
  return text.includes('{params.') || text.includes('{promote.');
}

export function scanReferences(text: string): TemplateReference[] {
  if (!hasTemplateSyntax(text)) return [];
  const out: TemplateReference[] = [];
  for (const m of text.matchAll(REFERENCE)) {
    const escaped = m[1] === '$';
    const scope = m[2] as 'params' | 'promote';
    const body = m[3]!;
    const ref: TemplateReference = { scope, path: body.split('.'), text: m[0].slice(escaped ? 1 : 0), index: m.index + (escaped ? 1 : 0), escaped };
    if (!escaped) {
      if (!PATH.test(body)) {
        ref.malformed = `"${ref.text}" is not a reference: after "${scope}." comes a dotted path of names (letters, digits, "_", "-") or list indexes`;
      } else if (scope === 'promote' && !(BUILTINS as readonly string[]).includes(body)) {
        ref.malformed = `"${ref.text}" is not a built-in: the built-ins are ${BUILTINS.map((b) => `\${promote.${b}}`).join(', ')}`;
      }
    }
    out.push(ref);
  }
  return out;
}

/** The single unescaped reference that makes up all of `text`, if that is what it is. */
export function soleReference(text: string): TemplateReference | undefined {
  if (!text.startsWith('${') || !text.endsWith('}')) return undefined;
  const refs = scanReferences(text);
  const only = refs[0];
  return refs.length === 1 && only && !only.escaped && only.index === 0 && only.text.length === text.length ? only : undefined;
}

export type Lookup = (ref: TemplateReference) => { value: unknown } | { error: string };

/**
 * Replaces every reference in `text` by the text of its value; escapes become literal. A value
 * that is an object or a list cannot sit inside a longer string: `onError` hears of it (and of
 * every unresolvable or malformed reference) with the reference and its offset.
 */
export function expandString(text: string, lookup: Lookup, onError: (ref: TemplateReference, message: string) => void): string {
  const refs = scanReferences(text);
  if (refs.length === 0) return text;
  let out = '';
  let last = 0;
  for (const ref of refs) {
    const start = ref.escaped ? ref.index - 1 : ref.index;
    out += text.slice(last, start);
    last = ref.index + ref.text.length;
    if (ref.escaped) {
      out += ref.text;
      continue;
    }
    if (ref.malformed) {
      onError(ref, ref.malformed);
      out += ref.text;
      continue;
    }
    const found = lookup(ref);
    if ('error' in found) {
      onError(ref, found.error);
      out += ref.text;
      continue;
    }
    const v = found.value;
    if (v !== null && typeof v === 'object') {
      onError(ref, `${ref.text} is ${Array.isArray(v) ? 'a list' : 'an object'}; only a string, number or boolean can be part of a longer string (a scalar that is exactly one reference takes the whole value)`);
      out += ref.text;
      continue;
    }
    out += v === null ? 'null' : String(v);
  }
  return out + text.slice(last);
}
