import { stringOption, type Command } from '../command.ts';

export const command: Command = {
  name: 'diff-env',
  summary: 'show what differs between two environments: the parameters, and the rendered diff',
  usage: 'promote diff-env <envA>[/<cluster>] <envB>[/<cluster>] [dir]',
  description: `
Two environments of one bundle differ only in their parameters, by construction. diff-env shows
that twice: the parameter values that differ (after defaults and cluster overrides), then the
unified diff of the two renders — exactly where those values land in the manifests. Append
/<cluster> to an environment to include that cluster's overrides. [dir] is the bundle directory
(default: the current directory). Exit 0 whether or not they differ.`,
  options: {
    root: { type: 'string', valueName: 'dir', description: 'project root holding environments/ (default: <dir> if it has environments/, else the current directory)' },
  },
  positionals: { min: 2, max: 3 },
  examples: [
    { title: 'What changes from staging to production', command: 'promote diff-env staging production ./bundle' },
    { title: 'Two clusters of one environment', command: 'promote diff-env production/prod-eu-1 production/prod-us-1 ./bundle' },
    { title: 'Only the parameters, as JSON', command: "promote diff-env dev staging --output json | jq '.parameters'" },
  ],
  async run(ctx, args) {
    const { diffEnvironments } = await import('../../bundle/diff-environments.ts');
    const [a, b, dir] = args.positionals as [string, string, string | undefined];
    const root = stringOption(args, 'root');
    const diff = await diffEnvironments({ bundleDir: dir ?? '.', cwd: ctx.cwd, a, b, ...(root !== undefined && { root }) });
    const show = (v: unknown) => (v === undefined ? '(unset)' : JSON.stringify(v));
    const lines: string[] = [];
    if (diff.parameters.length === 0) lines.push(`${diff.a} and ${diff.b} have the same parameters.`);
    else {
      lines.push(`Parameters (${diff.a} → ${diff.b}):`);
      const width = Math.max(...diff.parameters.map((p) => p.path.length));
      for (const p of diff.parameters) lines.push(`  ${p.path.padEnd(width)}  ${show(p.a)} → ${show(p.b)}`);
    }
    lines.push('');
    lines.push(diff.rendered ? `Rendered (${diff.changedFiles.length} file${diff.changedFiles.length === 1 ? '' : 's'} differ):\n${diff.rendered}` : 'Rendered manifests are identical.');
    return { data: diff, text: lines.join('\n') };
  },
};
