import type { ReportProblem } from '../gate.ts';
import { describeVariables, fillPlaceholders, isKnown, placeholderAt, type Placeholder } from './placeholders.ts';

// A metrics gate's PromQL and its `${promote.stage}`, `${promote.cluster}`, `${promote.digest}`:
// each is replaced by its value escaped for the PromQL string it sits in, so a value cannot end
// the string and add to the query. Where a value cannot be escaped (outside a string, inside a
// raw `…` string) the loader refuses the placeholder, as it refuses a `${…}` that names no
// substitution (the syntax is every gate's: placeholders.ts).

export const SUBSTITUTIONS = ['stage', 'cluster', 'digest'] as const;
export type Substitution = (typeof SUBSTITUTIONS)[number];

/** A placeholder in the query, and the PromQL quote it sits in (undefined: outside any string). */
interface QueryPlaceholder extends Placeholder {
  quote: '"' | "'" | '`' | '#' | undefined;
}

/**
 * The placeholders of a query with the lexical context of each, as PromQL's lexer sees it
 * (promql/parser/lex.go): "…" and '…' take backslash escapes, `…` is raw, `#` comments run to
 * the end of the line. The context decides how a value is escaped, or that it cannot be.
 */
export function placeholders(query: string): QueryPlaceholder[] {
  const found: QueryPlaceholder[] = [];
  let quote: QueryPlaceholder['quote'];
  for (let i = 0; i < query.length; i++) {
    const c = query[i]!;
    const p = placeholderAt(query, i);
    if (p) {
      found.push({ ...p, quote });
      i = p.end - 1;
      continue;
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
  // The loader admits placeholders only inside "…" / '…' strings and comments (checkQuery).
  return fillPlaceholders(query, placeholders(query), values, (value, p) => escapePromQLString(value, p.quote === "'" ? "'" : '"'));
}

export function usesCluster(query: string): boolean {
  return placeholders(query).some((p) => p.name === 'cluster');
}

export function checkQuery(query: string, pointer: string, report: ReportProblem): boolean {
  let ok = true;
  for (const p of placeholders(query)) {
    const written = p.written;
    if (!isKnown(p, SUBSTITUTIONS)) {
      report(pointer, { message: `unknown substitution ${written} in the query`, rule: 'gate-metrics-query', expected: describeVariables(SUBSTITUTIONS), actual: written });
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
