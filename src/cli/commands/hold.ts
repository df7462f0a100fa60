import type { Command } from '../command.ts';
import { stringOption } from '../command.ts';
import { PROMOTION_OPTIONS, projectOptions } from '../promotion-options.ts';

export const command: Command = {
  name: 'hold',
  summary: 'stop promotions and rollbacks into a stage (automatic and manual) until `promote release`',
  usage: 'promote hold <stage> [--reason <text>] [options]',
  description: `
Commits a hold to the ledger. While a stage is held, \`promote to\`, \`promote rollback\` and
\`promote run\` refuse it (exit 3, naming who held it and why), so automatic promotion and a
human's rollback cannot fight.`,
  positionals: { min: 1, max: 1 },
  options: {
    reason: { type: 'string', valueName: 'text', description: 'why the stage is held (shown to everyone refused)' },
    ...PROMOTION_OPTIONS,
  },
  examples: [
    { title: 'Freeze production during an incident', command: 'promote hold production --reason "INC-4711 investigating"' },
    { title: 'Stop auto-promotion of staging while testing by hand', command: 'promote hold staging --reason "manual QA until Friday"' },
  ],
  async run(ctx, args) {
    const { holdCommand } = await import('../../promotion/actions.ts');
    const { holdText } = await import('../promotion-text.ts');
    const result = await holdCommand(await projectOptions(ctx, args), args.positionals[0]!, true, stringOption(args, 'reason'));
    return { data: result, text: holdText(result) };
  },
};
