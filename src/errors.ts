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
/** What an error code means and, when every failure with it ends the same way, its outcome. */
export interface CodeInfo {
  readonly meaning: string;
  /** Omitted when the outcome depends on where the failure happens (the throw site says). */
  readonly outcome?: Outcome;
}

export type CodeTable = Record<string, CodeInfo>;

// The codes of the leaf utilities and the ones every layer may raise.
export const rootErrorCodes = {
  INTERNAL: { meaning: 'an unexpected failure inside promote (a bug, or a system error with no code of its own)', outcome: 'failed' },
  USAGE: { meaning: 'the command line is wrong: an unknown flag, a missing argument, or flags that exclude each other', outcome: 'usage' },
  ASSET_MISSING: { meaning: "one of promote's own files (a schema, a template) is missing from the installation", outcome: 'failed' },
} as const satisfies CodeTable;

type RootErrorCodes = typeof rootErrorCodes;

/**
 * Every error code there is. Each folder declares its own codes, with what they mean, in its
 * `error-codes.ts`, which adds them here by interface merging:
 * `declare module '../errors.ts' { interface ErrorCodes extends FolderCodes {} }`. So this bottom
 * layer imports nothing above it, a folder's codes live beside the code that raises them, and
 * `tsc` still rejects a code that no folder declares. scripts/gen-error-codes.ts lists them all in
 * docs/errors.md.
 */
export interface ErrorCodes extends RootErrorCodes {}

export type ErrorCode = keyof ErrorCodes & string;

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
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly outcome: Outcome;
  readonly problems: Problem[];
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: PromoteErrorOptions = {}) {
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

export function isPromoteError(err: unknown, code?: ErrorCode): err is PromoteError {
  return err instanceof PromoteError && (code === undefined || err.code === code);
}

/** Adds context to a failure without losing its code, hint or outcome (Flux-style wrapping). */
export function wrapError(err: unknown, context: string, fallbackCode: ErrorCode = 'INTERNAL'): PromoteError {
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
