import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { PromoteError } from '../errors.ts';

// promote ui's own options, checked before anything is served: the address (a literal host and
// a port), the poll interval, and the token actions need.

export interface UiInput {
  listen: string;
  interval: string;
  allowActions: boolean;
  tokenFile?: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export interface ParsedUiOptions {
  host: string;
  port: number;
  intervalMs: number;
  token?: string;
}

/** A token shorter than this is guessable by anyone who can reach the port. */
const MIN_TOKEN = 16;

export async function uiOptions(input: UiInput): Promise<ParsedUiOptions> {
  const { parseDuration } = await import('../pipeline/duration.ts');
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([^:\s]+)):(\d{1,5})$/.exec(input.listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new PromoteError('USAGE', `--listen must be host:port, not "${input.listen}"`, { outcome: 'usage', hint: 'e.g. --listen 127.0.0.1:8080 (port 0: any free port)' });
  const intervalMs = parseDuration(input.interval);
  if (intervalMs === undefined || intervalMs < 1000) throw new PromoteError('USAGE', `--interval must be a duration of at least 1s, not "${input.interval}"`, { outcome: 'usage', hint: 'e.g. --interval 5s' });
  const host = m[1] ?? m[2]!;
  if (!input.allowActions) {
    if (input.tokenFile !== undefined) throw new PromoteError('USAGE', '--token-file is only used with --allow-actions', { outcome: 'usage', hint: 'add --allow-actions to let the page take actions, or drop --token-file' });
    return { host, port, intervalMs };
  }
  let token = input.env.PROMOTE_UI_TOKEN;
  let source = 'PROMOTE_UI_TOKEN';
  if (input.tokenFile !== undefined) {
    source = input.tokenFile;
    try {
      token = await readFile(resolve(input.cwd, input.tokenFile), 'utf8');
    } catch (err) {
      throw new PromoteError('UI_TOKEN_MISSING', `cannot read the token file ${input.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}`, { outcome: 'usage', cause: err, hint: 'e.g. openssl rand -hex 32 > token-file' });
    }
  }
  token = token?.trim();
  if (!token) throw new PromoteError('UI_TOKEN_MISSING', '--allow-actions needs a token: --token-file <file> or PROMOTE_UI_TOKEN', { outcome: 'usage', hint: 'e.g. openssl rand -hex 32 > token-file; promote ui --allow-actions --token-file token-file' });
  if (token.length < MIN_TOKEN || /\s/.test(token)) throw new PromoteError('UI_TOKEN_MISSING', `the token from ${source} must be at least ${MIN_TOKEN} characters without spaces`, { outcome: 'usage', hint: 'e.g. openssl rand -hex 32' });
  return { host, port, intervalMs, token };
}
