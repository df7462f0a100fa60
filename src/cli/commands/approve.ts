import type { Command } from '../command.ts';
import { stringOption } from '../command.ts';
import { PROMOTION_OPTIONS, projectOptions } from '../promotion-options.ts';

export const command: Command = {
  name: 'approve',
  summary: "record your approval of a bundle digest for a stage (counted by the stage's approval gate)",
  usage: 'promote approve <stage> <digest|ref> [--comment <text>] [options]',
  description: `
Commits an approval to the ledger, authored by your git identity (user.name / user.email, or
GIT_AUTHOR_NAME / GIT_AUTHOR_EMAIL). The approval gate counts distinct approvers of exactly this
digest; with separateDuties: true the promoter's own approval does not count. Approving twice
changes nothing. The digest may be shortened to its first 12 or more hex digits (as promote
status prints them) when exactly one bundle the ledger or the repository's tags know starts so.`,
  positionals: { min: 2, max: 2 },
  options: {
    comment: { type: 'string', short: 'm', valueName: 'text', description: 'a note kept with the approval in the ledger commit' },
    ...PROMOTION_OPTIONS,
  },
  examples: [
    { title: 'Approve the digest staging runs for production', command: 'promote approve production sha256:4f1c…' },
    { title: 'With a note for the audit trail', command: 'promote approve production sha256:4f1c… --comment "CAB-231 approved"' },
  ],
  async run(ctx, args) {
    const { approveCommand } = await import('../../promotion/actions.ts');
    const { approveText } = await import('../promotion-text.ts');
    const result = await approveCommand(await projectOptions(ctx, args), args.positionals[0]!, args.positionals[1]!, stringOption(args, 'comment'));
    return { data: result, text: approveText(result) };
  },
};
