import type { Command } from '../command.ts';
import { stringOption } from '../command.ts';
import { PROMOTION_OPTIONS, projectOptions } from '../promotion-options.ts';

export const command: Command = {
  name: 'approve',
  summary: "record your approval of a bundle digest for a stage (counted by the stage's approval gate)",
  usage: 'promote approve <stage> <digest|ref> --key <file> [--comment <text>] [options]',
  description: `
When the pipeline lists trust.approvers, an approval is a signed statement (DSSE, in-toto) that
binds the pipeline, the stage, the bundle digest and the digest of the parameters the stage would
run it with: promote verifies the bundle's signature and validates those parameters, signs with
--key (refused with exit 4, nothing written, unless its public key is in trust.approvers), commits
the signed approval to the ledger and attaches it to the bundle in the registry. The approval
gate counts distinct approver keys whose approval verifies for exactly this digest and these
parameters; with separateDuties: true an approval signed with the promoter's key does not count.
A change of the stage's parameters needs a new approval. Approving twice changes nothing. The
digest may be shortened to its first 12 or more hex digits (as promote status prints them) when
exactly one bundle the ledger or the repository's tags know starts so.

Without trust.approvers an approval is an unsigned ledger commit authored by your git identity
(repository config, then global, GIT_AUTHOR_NAME / GIT_AUTHOR_EMAIL overriding both): anyone can
write one under any name, so it counts for count only, and from / separateDuties are refused.`,
  positionals: { min: 2, max: 2 },
  options: {
    key: { type: 'string', short: 'k', valueName: 'file', description: "your private key, whose .pub is in trust.approvers (default: PROMOTE_APPROVER_KEY; password: PROMOTE_PASSWORD or a prompt)" },
    comment: { type: 'string', short: 'm', valueName: 'text', description: 'a note kept in the signed approval and the ledger commit' },
    ...PROMOTION_OPTIONS,
  },
  examples: [
    { title: 'Approve the digest staging runs for production, signed with your key', command: 'promote approve production sha256:4f1c… --key keys/alex.key' },
    { title: 'With a note for the audit trail', command: 'promote approve production sha256:4f1c… --key keys/alex.key --comment "CAB-231 approved"' },
  ],
  async run(ctx, args) {
    const { approveCommand } = await import('../../promotion/actions.ts');
    const { approveText } = await import('../promotion-text.ts');
    const result = await approveCommand(await projectOptions(ctx, args), args.positionals[0]!, args.positionals[1]!, stringOption(args, 'comment'));
    return { data: result, text: approveText(result) };
  },
};
