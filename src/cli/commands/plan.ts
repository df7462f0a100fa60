import type { Command } from '../command.ts';
import { stringOption } from '../command.ts';
import { PROMOTION_OPTIONS, projectOptions } from '../promotion-options.ts';
import { REGISTRY_HELP } from '../registry-options.ts';

export const command: Command = {
  name: 'plan',
  summary: 'show what `promote to <stage>` would do: the digest, its signature and parameters, every gate with evidence',
  usage: 'promote plan <stage> [--bundle <ref>] [options]',
  description: `
Resolves the candidate (default: the digest the stage's \`from\` stage runs now; for the first
stage, the bundle it runs now), verifies its signature under the pipeline's trust policy,
validates the stage's parameters against the bundle's schema (read from the bundle's config
blob, never its content), evaluates every gate, and shows the difference between what the stage
runs now and what it would run: the parameters by JSON pointer (secrets by reference name,
never a value), and per cluster the rendered files that cluster's agent would apply (its merged
parameters, \${promote.cluster} set). --no-diff skips the rendered diff (it downloads the bundles).
A helm or kustomize bundle is rendered here by this machine's binary: the plan names it and its
version for each side, and the versions the stage's agents last reported when they differ
("renderer: helm v3.17.3 (agents of staging report v3.16.0)"), since another version may render
other manifests (--output json: diff.renderer {now, after, reported, versionDiffers}).

The same bundle with other parameters is a configuration change (recorded with action
configure): upstream converged/soak gates do not apply to it and are shown as n/a; parameters
that no longer satisfy the schema are reported (exit 4) while the stage keeps its last good
record. Changes nothing anywhere. Exits 0 when the promotion would go ahead or there is nothing
to do, else with the exit code \`promote to\` would refuse with (3 gate or policy, 4 verification).
With --output json, \`record\` is the unsigned promotion record \`promote to\` would sign, commit
and publish (absent when it would write none).

${REGISTRY_HELP}`,
  positionals: { min: 1, max: 1 },
  options: {
    bundle: { type: 'string', short: 'b', valueName: 'ref', description: 'the candidate: sha256:… (or its first 12+ hex digits, as status prints them), <repository>@sha256:… or <repository>:<tag>' },
    'no-diff': { type: 'boolean', description: 'skip the rendered diff (only the checks and gates)' },
    ...PROMOTION_OPTIONS,
  },
  examples: [
    { title: 'What would move into staging, and would the gates let it?', command: 'promote plan staging' },
    { title: 'Plan a specific bundle for the first stage', command: 'promote plan dev --bundle registry.example.com/acme/webapp@sha256:4f1c…' },
    { title: 'Gate results as JSON for a CI check', command: 'promote plan production --output json' },
    { title: 'After editing environments/dev.yaml: the configuration change, per cluster', command: 'promote plan dev' },
  ],
  async run(ctx, args) {
    const { planCommand } = await import('../../promotion/actions.ts');
    const { planText } = await import('../promotion-text.ts');
    const { planOutcome } = await import('../../pipeline/plan.ts');
    const plan = await planCommand(await projectOptions(ctx, args), args.positionals[0]!, stringOption(args, 'bundle'), args.values['no-diff'] !== true);
    const outcome = planOutcome(plan);
    return { data: plan, text: planText(plan), ...(outcome && { outcome }) };
  },
};
