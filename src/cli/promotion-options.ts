import { PromoteError } from '../errors.ts';
import type { ProjectOptions } from '../promotion/actions.ts';
import { stringOption, type CommandContext, type OptionSpec, type ParsedArgs } from './command.ts';
import { REGISTRY_OPTIONS, registryOptions } from './registry-options.ts';

// Options every promotion command shares (plan, to, approve, history, hold, release, rollback,
// run), spelled and explained once.

const PIPELINE_OPTION: Record<string, OptionSpec> = {
  pipeline: { type: 'string', short: 'p', valueName: 'name|file', description: 'the pipeline (pipelines/<name>.yaml); default: the only one in the project' },
};

export const KEY_OPTION: Record<string, OptionSpec> = {
  key: { type: 'string', short: 'k', valueName: 'file', description: "the promoter's private key that signs the record (default: PROMOTE_KEY; password: PROMOTE_PASSWORD or a prompt)" },
};

export const FORCE_OPTIONS: Record<string, OptionSpec> = {
  force: { type: 'boolean', description: 'override failing gates (and pass a manual gate); needs --reason, recorded in the ledger and the record' },
  reason: { type: 'string', valueName: 'text', description: 'why --force is needed (e.g. an incident id)' },
};

export const PROMOTION_OPTIONS: Record<string, OptionSpec> = { ...PIPELINE_OPTION, ...REGISTRY_OPTIONS };

export async function projectOptions(ctx: CommandContext, args: ParsedArgs): Promise<ProjectOptions> {
  // An empty --pipeline or --key means "not given" (key then falls back to PROMOTE_KEY).
  const pipeline = stringOption(args, 'pipeline');
  const key = stringOption(args, 'key');
  return {
    cwd: ctx.cwd,
    env: ctx.env,
    ...(pipeline && { pipeline }),
    ...(key && { key }),
    registry: await registryOptions(ctx, args),
    interactive: ctx.interactive,
    log: (m) => ctx.log(m),
  };
}

/** `--force` with `--reason`, or nothing; one without the other is a usage error. */
export function forceOption(args: ParsedArgs): { reason: string } | undefined {
  const force = args.values.force === true;
  const reason = typeof args.values.reason === 'string' ? args.values.reason.trim() : undefined;
  if (force && !reason) throw new PromoteError('USAGE', '--force needs --reason: an override is recorded with its reason', { outcome: 'usage', hint: 'e.g. --force --reason "INC-1234: hotfix for the checkout outage"' });
  if (!force && reason) throw new PromoteError('USAGE', '--reason is only used with --force', { outcome: 'usage', hint: 'add --force to override failing gates, or drop --reason' });
  return force ? { reason: reason! } : undefined;
}

/** A whole-number option of at least 1 (--limit, --steps), or undefined when not given. */
export function countOption(args: ParsedArgs, name: string, example: string): number | undefined {
  const text = stringOption(args, name);
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new PromoteError('USAGE', `--${name} must be a whole number of at least 1, not "${text}"`, { outcome: 'usage', hint: `e.g. --${name} ${example}` });
  return n;
}
