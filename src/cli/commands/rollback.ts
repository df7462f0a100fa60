import type { Command } from '../command.ts';
import { stringOption } from '../command.ts';
import { FORCE_OPTIONS, KEY_OPTION, PROMOTION_OPTIONS, countOption, forceOption, projectOptions } from '../promotion-options.ts';
import { REGISTRY_HELP } from '../registry-options.ts';

export const command: Command = {
  name: 'rollback',
  summary: 'promote an earlier bundle of a stage again: a new record through the same gates (or --force with a reason)',
  usage: 'promote rollback <stage> [--to <digest> | --steps N] [--key <file>] [--force --reason <text>] [options]',
  description: `
Nothing is rewritten: a rollback is a new promotion of a digest the stage ran before (default:
the one before the current), with the same checks as \`promote to\` — signature, parameters,
gates. Gates usually fail for an old digest (its upstream has moved on): then --force with a
--reason overrides them, and the override is recorded. A held stage refuses rollbacks too.

${REGISTRY_HELP}`,
  positionals: { min: 1, max: 1 },
  options: {
    to: { type: 'string', valueName: 'digest', description: 'the earlier digest to return to, or its first 12+ hex digits (must appear in the stage history)' },
    steps: { type: 'string', valueName: 'N', description: 'go back N distinct bundles (default 1)' },
    ...KEY_OPTION,
    ...FORCE_OPTIONS,
    ...PROMOTION_OPTIONS,
  },
  examples: [
    { title: 'Return production to the bundle before the current one, overriding gates', command: 'promote rollback production --force --reason "INC-4711: 1.5.0 breaks checkout" --key keys/promoter.key' },
    { title: 'Return staging to a specific earlier digest', command: 'promote rollback staging --to sha256:4f1c… --key keys/promoter.key' },
    { title: 'Two bundles back', command: 'promote rollback staging --steps 2 --force --reason "bisecting a regression" --key keys/promoter.key' },
  ],
  async run(ctx, args) {
    const { PromoteError } = await import('../../errors.ts');
    const { rollbackCommand } = await import('../../promotion/actions.ts');
    const { promoteText } = await import('../promotion-text.ts');
    const to = stringOption(args, 'to');
    const stepsText = stringOption(args, 'steps');
    if (to !== undefined && stepsText !== undefined) throw new PromoteError('USAGE', '--to and --steps exclude each other', { outcome: 'usage', hint: 'give the digest (--to) or how far back (--steps), not both' });
    const steps = countOption(args, 'steps', '1');
    const force = forceOption(args);
    const result = await rollbackCommand(await projectOptions(ctx, args), args.positionals[0]!, { ...(to && { to }), ...(steps && { steps }) }, force);
    return { data: result, text: promoteText(result) };
  },
};
