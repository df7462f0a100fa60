import type { Command } from '../command.ts';
import { stringOption } from '../command.ts';
import { FORCE_OPTIONS, KEY_OPTION, PROMOTION_OPTIONS, forceOption, projectOptions } from '../promotion-options.ts';
import { REGISTRY_HELP } from '../registry-options.ts';

export const command: Command = {
  name: 'to',
  summary: 'promote a bundle digest into a stage through its gates; record it in the ledger and publish the signed record',
  usage: 'promote to <stage> [--bundle <ref>] [--key <file>] [--force --reason <text>] [options]',
  description: `
Moves the same digest forward: by default the one the stage's \`from\` stage runs now. In order,
and refusing before anything is written if any step fails: verify the bundle's signature under
the pipeline's trust.bundles (exit 4), validate the stage's parameters against the bundle's
schema (exit 4), evaluate the gates (exit 3, with every gate's evidence), then commit the
promotion to the ledger (compare-and-swap: if someone else moved the stage meanwhile, this
promotion is refused with exit 3, never merged) and publish the signed record (DSSE in-toto,
subject = the bundle) at tag promotion-<stage> in the bundle's repository.

When the candidate is the bundle the stage runs and only the stage's parameters changed (its
environment file, with each cluster's overrides), this is a configuration change: a new record
with the same bundle and the new parameters, action configure, through the gates that apply to
it (approval, window, manual, hold; not upstream converged/soak). For the first stage, leaving
out --bundle means that: its bundle with today's parameters ("already runs" when unchanged).

Metadata only: bundle content is never downloaded or re-uploaded — except into a stage that
names its own repository (a separate production registry): there the bundle is copied with its
signatures (mounted where the registry allows) before the record is published next to it.
If publishing fails after the ledger commit, run the same command again: it finds the committed
record and only publishes it.

${REGISTRY_HELP}`,
  positionals: { min: 1, max: 1 },
  options: {
    bundle: { type: 'string', short: 'b', valueName: 'ref', description: 'the candidate: sha256:… (or its first 12+ hex digits, as status prints them), <repository>@sha256:… or <repository>:<tag> (first stage: default the bundle it runs)' },
    ...KEY_OPTION,
    ...FORCE_OPTIONS,
    ...PROMOTION_OPTIONS,
  },
  examples: [
    { title: 'Promote what dev runs into staging', command: 'promote to staging --key keys/promoter.key' },
    { title: 'Start a bundle on its way: promote it into the first stage', command: 'promote to dev --bundle registry.example.com/acme/webapp@sha256:4f1c… --key keys/promoter.key' },
    { title: 'Promote an edited environments/dev.yaml (same bundle, new parameters)', command: 'promote to dev --key keys/promoter.key' },
    { title: 'Break glass: override failing gates, with the reason on record', command: 'promote to production --force --reason "INC-4711 hotfix" --key keys/promoter.key' },
    { title: 'In CI, key from the environment, result as JSON', command: 'PROMOTE_KEY=/secrets/promoter.key promote to staging --output json' },
  ],
  async run(ctx, args) {
    const { toCommand } = await import('../../promotion/actions.ts');
    const { promoteText } = await import('../promotion-text.ts');
    const force = forceOption(args);
    ctx.progress(`promoting to ${args.positionals[0]}…`);
    const result = await toCommand(await projectOptions(ctx, args), args.positionals[0]!, stringOption(args, 'bundle'), force);
    return { data: result, text: promoteText(result) };
  },
};
