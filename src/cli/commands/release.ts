import type { Command } from '../command.ts';
import { PROMOTION_OPTIONS, projectOptions } from '../promotion-options.ts';

export const command: Command = {
  name: 'release',
  summary: 'lift a hold: promotions and rollbacks into the stage may proceed again',
  usage: 'promote release <stage> [options]',
  description: `
Commits the release to the ledger; the next \`promote run\` pass promotes the stage again if its
gates pass.`,
  positionals: { min: 1, max: 1 },
  options: { ...PROMOTION_OPTIONS },
  examples: [
    { title: 'Resume production after the incident', command: 'promote release production' },
    { title: 'Release and see the result as JSON', command: 'promote release staging --output json' },
  ],
  async run(ctx, args) {
    const { holdCommand } = await import('../../promotion/actions.ts');
    const { holdText } = await import('../promotion-text.ts');
    const result = await holdCommand(await projectOptions(ctx, args), args.positionals[0]!, false);
    return { data: result, text: holdText(result) };
  },
};
