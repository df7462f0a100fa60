// The one error type of the project. Every failure a user can cause or meet is a PromoteError
// with a stable `code` (scripts switch on it, never on message text), a one-line `message`, a
// `hint` that says what to do next (ORAS' "Recommendation"), and the underlying `cause`.
// The CLI renders it in exactly one place (src/cli/output.ts); stack traces only with --debug.

/** How a failure maps onto the documented exit codes (DESIGN.md §5). */
export type Outcome = 'failed' | 'usage' | 'refused' | 'verification';

export const EXIT_CODES: Record<Outcome | 'ok', number> = {
  ok: 0,
  failed: 1,
  usage: 2,
  refused: 3,
  verification: 4,
};

/** One precise complaint about an input document: where it is, what rule it broke. */
export interface Problem {
  message: string;
  file?: string;
  line?: number;
  column?: number;
  /** JSON pointer (RFC 6901) into the document, e.g. `/spec/parameters/replicas`. */
  pointer?: string;
  /** The schema keyword or check that failed, e.g. `type`, `required`, `additionalProperties`. */
  rule?: string;
  expected?: string;
  /** Omitted for secret values: they are never echoed. */
  actual?: string;
  hint?: string;
}

export interface PromoteErrorOptions {
  hint?: string;
  cause?: unknown;
  outcome?: Outcome;
  problems?: Problem[];
  /** Machine-readable facts for `--output json` (never secrets). */
  details?: Record<string, unknown>;
}

export class PromoteError extends Error {
  override readonly name = 'PromoteError';
  readonly code: string;
  readonly hint: string | undefined;
  readonly outcome: Outcome;
  readonly problems: Problem[];
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, message: string, options: PromoteErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.outcome = options.outcome ?? 'failed';
    this.problems = options.problems ?? [];
    this.details = options.details;
  }

  get exitCode(): number {
    return EXIT_CODES[this.outcome];
  }
}

export function isPromoteError(err: unknown, code?: string): err is PromoteError {
  return err instanceof PromoteError && (code === undefined || err.code === code);
}

/** Adds context to a failure without losing its code, hint or outcome (Flux-style wrapping). */
export function wrapError(err: unknown, context: string, fallbackCode = 'INTERNAL'): PromoteError {
  if (err instanceof PromoteError) {
    return new PromoteError(err.code, `${context}: ${err.message}`, {
      hint: err.hint,
      cause: err.cause ?? err,
      outcome: err.outcome,
      problems: err.problems,
      details: err.details,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new PromoteError(fallbackCode, `${context}: ${message}`, { cause: err });
}

/** Formats one problem as `file:line:col: /pointer: message (expected …, got …)`. */
export function formatProblem(p: Problem): string {
  let where = '';
  if (p.file) where += p.file;
  if (p.line !== undefined) where += `:${p.line}`;
  if (p.line !== undefined && p.column !== undefined) where += `:${p.column}`;
  const parts: string[] = [];
  if (where) parts.push(where);
  if (p.pointer !== undefined) parts.push(p.pointer === '' ? '/' : p.pointer);
  let text = parts.length ? `${parts.join(': ')}: ${p.message}` : p.message;
  const facts: string[] = [];
  if (p.expected !== undefined) facts.push(`expected ${p.expected}`);
  if (p.actual !== undefined) facts.push(`got ${p.actual}`);
  if (facts.length) text += ` (${facts.join(', ')})`;
  if (p.hint) text += ` — ${p.hint}`;
  return text;
}
