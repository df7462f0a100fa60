import { stringOption, type Command } from '../command.ts';
import { REGISTRY_OPTIONS, registryOptions } from '../registry-options.ts';

export const command: Command = {
  name: 'demo',
  summary: 'the whole flow on the embedded defaults: build, sign, promote through every stage (dev → staging → production), agents, gates, drift, rollback',
  usage: 'promote demo [--project <dir>] [--registry <repository>] [--kubeconfig <file>]',
  description: `
Runs the product end to end in one process, on the example in this repository (or on a project
made by \`promote init\` or \`promote import\`): creates keys, builds and signs release 1.0 of the
bundle, promotes it into the first stage (\`promote run --once\` when that is \`promotion: auto\`),
runs one agent per cluster (directories under .promote/clusters/), walks 1.0 through the
stages, sends release 1.1 after it (into the first stage while 1.0 is further on), edits a
cluster of the last stage by hand (drift: detected, then corrected) and rolls the last stage
back to 1.0. Each step prints one line on stderr; stdout gets the stage × cluster status table,
the wall time, and the commands to look at what it left on disk.

The pipeline is any chain of two or more stages, each \`from\` the one before: the first plays
dev, the last production, those between staging. Its gates decide what the story shows: a stage
with a converged gate is refused until the one before converged, one with an approval gate until
a second person approved (the demo's approver key), soaks are waited out. A branching pipeline, a
single stage, a manual gate, more than one approval or a soak over a minute is refused.

Nothing is simulated: the gates read the agents' signed status reports and the real clock, so
the example pipeline soaks for seconds, not hours. The demo's state lives in <project>/.promote/
(registry, ledger, clusters) and is reset at the start of every run; keys (the files the
pipeline's trust lists name, made on the first run) are kept. A pipeline whose registry or
ledger lies elsewhere (a team's real ones) is refused. Key password: PROMOTE_PASSWORD, else the
fixed demo password "promote-demo" (demo only).
--registry and --kubeconfig point the same story at a real registry and a real cluster.`,
  options: {
    project: { type: 'string', valueName: 'dir', description: 'the project to run it on (default: the current directory)' },
    registry: { type: 'string', valueName: 'repository', description: "push to this registry repository instead of the pipeline's (e.g. localhost:5000/acme/webapp)" },
    kubeconfig: { type: 'string', valueName: 'file', description: 'agents converge the Kubernetes cluster of this kubeconfig instead of directories' },
    ...REGISTRY_OPTIONS,
  },
  positionals: { min: 0, max: 0 },
  examples: [
    { title: 'The whole story on the embedded defaults (what `npm run demo` does)', command: 'promote demo' },
    { title: 'On a project scaffolded by promote init', command: 'promote init my-app && promote demo --project my-app' },
    { title: 'On the project promote import made of two overlays (a two-stage pipeline)', command: 'promote import overlays/staging overlays/production --out my-app && promote demo --project my-app' },
    { title: 'Against a real registry (plain HTTP on localhost)', command: 'promote demo --registry localhost:5000/acme/webapp --insecure' },
    { title: 'A machine-readable summary (steps, digests, status) for scripts', command: 'promote demo --output json' },
  ],
  async run(ctx, args) {
    const { resolve } = await import('node:path');
    const { runDemo } = await import('../../demo/demo.ts');
    const { demoText } = await import('../../demo/demo-text.ts');
    const registry = stringOption(args, 'registry');
    const kubeconfig = stringOption(args, 'kubeconfig');
    const result = await runDemo({
      project: resolve(ctx.cwd, stringOption(args, 'project') ?? '.'),
      env: ctx.env,
      cwd: ctx.cwd,
      ...(registry && { registry }),
      ...(kubeconfig && { kubeconfig: resolve(ctx.cwd, kubeconfig) }),
      registryOptions: await registryOptions(ctx, args),
      narrate: (line) => ctx.log(line),
    });
    return { data: result, text: demoText(result, { color: ctx.color }) };
  },
};
