// `${promote.<name>}` in what a gate sends (an http gate's URL, headers and body, a metrics
// gate's PromQL): one syntax for every gate, found and filled in here. Each gate names the
// variables it offers and how a value is escaped for where it lands (URL-encoding, a PromQL
// string), since that is what keeps a value from changing the request around it.

/** Any `${…}`: one that names no variable is refused when the pipeline loads, never sent as written. */
const PLACEHOLDER = /\$\{([^}]*)\}/g;

export interface Placeholder {
  /** As written, e.g. `${promote.stage}`. */
  written: string;
  /** The variable after `promote.` (spaces inside the braces ignored); undefined without that prefix. */
  name: string | undefined;
  start: number;
  end: number;
}

function toPlaceholder(m: RegExpExecArray): Placeholder {
  const inner = m[1]!.trim();
  return { written: m[0], name: inner.startsWith('promote.') ? inner.slice('promote.'.length) : undefined, start: m.index, end: m.index + m[0].length };
}

/** The placeholder that starts at `at` in `text`, if one does (for a gate that reads its text itself). */
export function placeholderAt(text: string, at: number): Placeholder | undefined {
  if (text[at] !== '$' || text[at + 1] !== '{') return undefined;
  const re = new RegExp(PLACEHOLDER.source, 'y');
  re.lastIndex = at;
  const m = re.exec(text);
  return m ? toPlaceholder(m) : undefined;
}

export function findPlaceholders(text: string): Placeholder[] {
  return [...text.matchAll(PLACEHOLDER)].map((m) => toPlaceholder(m as RegExpExecArray));
}

export function isKnown(p: Placeholder, variables: readonly string[]): boolean {
  return p.name !== undefined && variables.includes(p.name);
}

/** `${promote.a}, ${promote.b}`: what a problem about an unknown placeholder says is expected. */
export function describeVariables(variables: readonly string[]): string {
  return variables.map((v) => `\${promote.${v}}`).join(', ');
}

/**
 * `text` with each of `found` (its placeholders, all known) replaced by `escape(value, p)`; an
 * absent value is the empty string.
 */
export function fillPlaceholders<P extends Placeholder>(text: string, found: readonly P[], values: Readonly<Record<string, string | undefined>>, escape: (value: string, p: P) => string): string {
  let out = '';
  let at = 0;
  for (const p of found) {
    out += text.slice(at, p.start) + escape(values[p.name!] ?? '', p);
    at = p.end;
  }
  return out + text.slice(at);
}
