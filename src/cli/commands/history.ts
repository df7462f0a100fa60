import type { Command } from '../command.ts';
import { PROMOTION_OPTIONS, countOption, projectOptions } from '../promotion-options.ts';

export const command: Command = {
  name: 'history',
  summary: 'the ledger of one stage: every promotion, rollback, approval and hold — digest, from, who, when, gates',
  usage: 'promote history <stage> [--limit N] [options]',
  description: `
Reads the git log of promotions/<pipeline>/<stage>.yaml in the ledger, newest first: the audit
trail is the git history itself, so \`git log\` shows the same commits. A configuration change
(action configure) lists the JSON pointers whose values changed (its Parameters-Changed trailers).`,
  positionals: { min: 1, max: 1 },
  options: {
    limit: { type: 'string', short: 'n', valueName: 'N', description: 'show at most N entries' },
    ...PROMOTION_OPTIONS,
  },
  examples: [
    { title: 'Who promoted what into production, and why it was allowed', command: 'promote history production' },
    { title: 'The last five entries as JSON', command: 'promote history staging --limit 5 --output json' },
  ],
  async run(ctx, args) {
    const { historyCommand } = await import('../../promotion/actions.ts');
    const { historyText } = await import('../promotion-text.ts');
    const limit = countOption(args, 'limit', '10');
    const stage = args.positionals[0]!;
    const items = await historyCommand(await projectOptions(ctx, args), stage, limit);
    return { data: items, text: historyText(stage, items) };
  },
};
