import type { Command } from '../command.ts';
import { flag } from '../command.ts';
import { PROMOTION_OPTIONS, countOption, projectOptions } from '../promotion-options.ts';

export const command: Command = {
  name: 'history',
  summary: 'the ledger of one stage: every promotion, rollback, approval and hold — digest, from, who, when, gates',
  usage: 'promote history <stage> [--limit N] [--verify] [options]',
  description: `
Reads the git log of promotions/<pipeline>/<stage>.yaml in the ledger, newest first: the audit
trail is the git history itself, so \`git log\` shows the same commits. A configuration change
(action configure) lists the JSON pointers whose values changed (its Parameters-Changed trailers).

--verify proves the history instead of listing it. Records form a hash chain per stage (each
names the previous record's digest and the next sequence number), and neither the ledger nor the
registry is trusted: every commit's stage file must hold a record whose digest is the file's
recordDigest and the commit's Promotion-Record trailer; every link and number must follow; a
record with that digest, signed by a key in today's trust.promotions (the pipeline file as you
have it, not the copy stored at the commit), must be attached to the bundle in the stage's
repository, say the same as the ledger and name that commit; the branch must have no merges and
promotion-<stage> must hold the head. Exit 0 prints a one-line summary; exit 4 names the first
commit or record that does not check out (details.check in JSON). With --verify, --limit bounds
the walk to the newest N records (default 1000); progress goes to stderr.`,
  positionals: { min: 1, max: 1 },
  options: {
    limit: { type: 'string', short: 'n', valueName: 'N', description: 'show at most N entries (with --verify: check at most the newest N records, default 1000)' },
    verify: { type: 'boolean', description: 'check the record chain across ledger and registry: signatures, links, sequence numbers, commits (exit 4 on the first break)' },
    ...PROMOTION_OPTIONS,
  },
  examples: [
    { title: 'Who promoted what into production, and why it was allowed', command: 'promote history production' },
    { title: 'The last five entries as JSON', command: 'promote history staging --limit 5 --output json' },
    { title: 'Prove production\'s history: every record signed, chained and in the registry', command: 'promote history production --verify' },
  ],
  async run(ctx, args) {
    const limit = countOption(args, 'limit', '10');
    const stage = args.positionals[0]!;
    if (flag(args, 'verify')) {
      const { verifyHistoryCommand } = await import('../../promotion/actions.ts');
      const { historyVerificationText } = await import('../promotion-text.ts');
      const result = await verifyHistoryCommand(await projectOptions(ctx, args), stage, limit);
      return { data: result, text: historyVerificationText(result) };
    }
    const { historyCommand } = await import('../../promotion/actions.ts');
    const { historyText } = await import('../promotion-text.ts');
    const items = await historyCommand(await projectOptions(ctx, args), stage, limit);
    return { data: items, text: historyText(stage, items) };
  },
};
