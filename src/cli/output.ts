import { formatProblem, PromoteError } from '../errors.ts';
import { redact, redactDeep } from '../redact.ts';
import type { OutputFormat } from './command.ts';

// The one place where results and errors become text. Results go to stdout; errors go to
// stderr in text mode and to stdout as `{"error": …}` in JSON mode, so scripts read one stream.
// Messages are redacted where they are built; everything here passes `redact` once more (a URL
// with credentials that slipped into a message, git's stderr in a --debug cause chain), except
// text results, which are the user's own content (rendered manifests).

export interface Streams {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export function printResult(streams: Streams, format: OutputFormat, data: unknown, text: string | undefined): void {
  if (format === 'json') {
    streams.stdout.write(`${JSON.stringify(redactDeep(data), null, 2)}\n`);
    return;
  }
  const body = text ?? (typeof data === 'string' ? data : JSON.stringify(data, null, 2));
  if (body.length) streams.stdout.write(body.endsWith('\n') ? body : `${body}\n`);
}

/** One result of a series (`status --watch`), printed as it comes: a JSON document per line, or text blocks a blank line apart. */
export function printSeriesResult(streams: Streams, format: OutputFormat, data: unknown, text: string): void {
  streams.stdout.write(format === 'json' ? `${JSON.stringify(redactDeep(data))}\n` : `${text}\n\n`);
}

function causeChain(err: unknown): string[] {
  const lines: string[] = [];
  let cur: unknown = err instanceof Error ? err.cause : undefined;
  for (let depth = 0; cur !== undefined && depth < 8; depth++) {
    if (cur instanceof Error) {
      lines.push(`caused by: ${cur.stack ?? cur.message}`);
      cur = cur.cause;
    } else {
      lines.push(`caused by: ${String(cur)}`);
      break;
    }
  }
  return lines;
}

export function printError(streams: Streams, format: OutputFormat, err: unknown, debug: boolean): number {
  if (err instanceof PromoteError) {
    if (format === 'json') {
      const error: Record<string, unknown> = { code: err.code, message: err.message, exitCode: err.exitCode };
      if (err.hint) error.hint = err.hint;
      if (err.problems.length) error.problems = err.problems;
      if (err.details) error.details = err.details;
      streams.stdout.write(`${JSON.stringify(redactDeep({ error }), null, 2)}\n`);
    } else {
      const out: string[] = [`error: ${err.message}`];
      for (const p of err.problems) out.push(`  - ${formatProblem(p)}`);
      if (err.hint) out.push(`hint: ${err.hint}`);
      if (debug) out.push(err.stack ?? '', ...causeChain(err));
      streams.stderr.write(`${redact(out.join('\n'))}\n`);
    }
    return err.exitCode;
  }
  // Anything else is a bug in promote: say so, and show where.
  const message = redact(err instanceof Error ? err.message : String(err));
  if (format === 'json') {
    streams.stdout.write(`${JSON.stringify({ error: { code: 'INTERNAL', message, exitCode: 1 } }, null, 2)}\n`);
  }
  const stack = redact(err instanceof Error && err.stack ? err.stack : message);
  streams.stderr.write(
    `internal error: ${message}\n${debug ? `${stack}\n${redact(causeChain(err).join('\n'))}\n` : ''}` +
      'hint: this is a bug in promote; rerun with --debug and report the output\n',
  );
  return 1;
}
