import type { ReportProblem } from '../gate.ts';

// A metrics gate's PromQL and its `${promote.stage}`, `${promote.cluster}`, `${promote.digest}`:
// each is replaced by its value escaped for the PromQL string it sits in, so a value cannot end
// the string and add to the query. Where a value cannot be escaped (outside a string, inside a
// raw `…` string) the loader refuses the placeholder.

export const SUBSTITUTIONS = ['stage', 'cluster', 'digest'] as const;
export type Substitution = (typeof SUBSTITUTIONS)[number];
const PLACEHOLDER = /\$\{promote\.([^}]*)\}/g;

/** A `${promote.x}` in the query, and the PromQL quote it sits in (undefined: outside any string). */
interface Placeholder {
  name: string;
  start: number;
  end: number;
  quote: '"' | "'" | '`' | '#' | undefined;
}

/**
 * The placeholders of a query with the lexical context of each, as PromQL's lexer sees it
 * (promql/parser/lex.go): "…" and '…' take backslash escapes, `…` is raw, `#` comments run to
 * the end of the line. The context decides how a value is escaped, or that it cannot be.
 */
export function placeholders(query: string): Placeholder[] {
  const found: Placeholder[] = [];
  let quote: Placeholder['quote'];
  for (let i = 0; i < query.length; i++) {
    const c = query[i]!;
    if (c === '$' && query[i + 1] === '{') {
      PLACEHOLDER.lastIndex = i;
      const m = PLACEHOLDER.exec(query);
      if (m && m.index === i) {
        found.push({ name: m[1]!, start: i, end: i + m[0].length, quote });
        i += m[0].length - 1;
        continue;
      }
    }
    if (quote === '#') {
      if (c === '\n') quote = undefined;
    } else if (quote === '"' || quote === "'") {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (quote === '`') {
      if (c === '`') quote = undefined;
    } else if (c === '"' || c === "'" || c === '`' || c === '#') {
      quote = c;
    }
  }
  return found;
}

/** `value` as the inside of a PromQL string opened with `quote` (Go escapes, which PromQL takes). */
export function escapePromQLString(value: string, quote: '"' | "'"): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '\\' || ch === quote) out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else out += ch;
  }
  return out;
}

/** The query with every placeholder replaced by its value, escaped for where it sits. */
export function expandQuery(query: string, values: Record<Substitution, string | undefined>): string {
  let out = '';
  let at = 0;
  for (const p of placeholders(query)) {
    const value = values[p.name as Substitution] ?? '';
    // The loader admits placeholders only inside "…" / '…' strings and comments (parseQuery).
    out += query.slice(at, p.start) + escapePromQLString(value, p.quote === "'" ? "'" : '"');
    at = p.end;
  }
  return out + query.slice(at);
}

export function usesCluster(query: string): boolean {
  return placeholders(query).some((p) => p.name === 'cluster');
}

export function checkQuery(query: string, pointer: string, report: ReportProblem): boolean {
  let ok = true;
  for (const p of placeholders(query)) {
    const written = query.slice(p.start, p.end);
    if (!(SUBSTITUTIONS as readonly string[]).includes(p.name)) {
      report(pointer, { message: `unknown substitution ${written} in the query`, rule: 'gate-metrics-query', expected: SUBSTITUTIONS.map((s) => `\${promote.${s}}`).join(', '), actual: written });
      ok = false;
    } else if (p.quote === undefined || p.quote === '`') {
      report(pointer, {
        message: `${written} must be inside a "…" or '…' PromQL string, where its value can be escaped`,
        rule: 'gate-metrics-query',
        hint: `e.g. {stage="${written}"}`,
      });
      ok = false;
    }
  }
  return ok;
}
