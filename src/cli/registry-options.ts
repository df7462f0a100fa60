import { PromoteError } from '../errors.ts';
import type { RegistryOptions } from '../oci/open.ts';
import type { CommandContext, OptionSpec, ParsedArgs } from './command.ts';

// The registry options every command that talks to a registry shares (push, pull, inspect,
// copy, and later sign/verify/to/agent), so they are spelled and explained the same everywhere.
// Passwords never appear on the command line (they would land in shell history and `ps`):
// --password-stdin, PROMOTE_REGISTRY_PASSWORD, or docker's config.json / credential helpers.

export const REGISTRY_OPTIONS: Record<string, OptionSpec> = {
  insecure: { type: 'boolean', description: 'use plain HTTP (or accept any TLS certificate): for local test registries only' },
  'ca-file': { type: 'string', valueName: 'pem', description: "trust the CA certificates in this PEM file (a private registry's CA)" },
  username: { type: 'string', short: 'u', valueName: 'name', description: 'registry user (default: PROMOTE_REGISTRY_USERNAME, then ~/.docker/config.json)' },
  'password-stdin': { type: 'boolean', description: 'read the registry password (or token) from standard input' },
  timeout: { type: 'string', valueName: 'duration', description: 'give up on a registry request (retries included) after this long (default: PROMOTE_REGISTRY_TIMEOUT, else 5m)' },
};

export const REGISTRY_HELP =
  'Credentials: --username with --password-stdin, or PROMOTE_REGISTRY_USERNAME/PROMOTE_REGISTRY_PASSWORD, ' +
  "or what `docker login` stored in ~/.docker/config.json (credential helpers included). " +
  'A reference oci:<dir>[:tag] uses an OCI image layout directory instead of a registry.';

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    total += buf.length;
    if (total > 64 * 1024) throw new PromoteError('USAGE', 'standard input is over 64 KiB: that is not a password', { outcome: 'usage', hint: 'pipe only the password, e.g. `echo "$TOKEN" | promote push … --password-stdin`' });
    chunks.push(buf);
  }
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

/** The RegistryOptions the user asked for on the command line. */
export async function registryOptions(ctx: CommandContext, args: ParsedArgs): Promise<RegistryOptions> {
  const options: RegistryOptions = { env: ctx.env, cwd: ctx.cwd };
  if (args.values.insecure === true) options.insecure = true;
  const timeout = args.values.timeout;
  if (typeof timeout === 'string') {
    const { parseDuration } = await import('../pipeline/duration.ts');
    const ms = parseDuration(timeout);
    if (ms === undefined || ms <= 0) throw new PromoteError('USAGE', `--timeout must be a duration, not "${timeout}"`, { outcome: 'usage', hint: 'e.g. --timeout 30s or --timeout 15m' });
    options.timeoutMs = ms;
  }
  const ca = args.values['ca-file'];
  if (typeof ca === 'string') {
    const { resolve } = await import('node:path');
    options.caFile = resolve(ctx.cwd, ca);
  }
  const username = args.values.username;
  if (typeof username === 'string') options.username = username;
  if (args.values['password-stdin'] === true) {
    if (typeof username !== 'string') {
      throw new PromoteError('USAGE', '--password-stdin needs --username', { outcome: 'usage', hint: 'give both: --username <name> --password-stdin' });
    }
    if (ctx.interactive) ctx.log('reading the password from standard input (end with Ctrl-D)…');
    const password = await readStdin();
    if (password === '') throw new PromoteError('USAGE', 'the password read from standard input is empty', { outcome: 'usage', hint: 'pipe the password in: printf %s "$PASSWORD" | promote … --password-stdin' });
    options.password = password;
  }
  return options;
}
