import { stringOption, type Command } from '../command.ts';
import { REGISTRY_OPTIONS, registryOptions } from '../registry-options.ts';

export const command: Command = {
  name: 'demo',
  summary: 'the whole flow on the embedded defaults: build, sign, promote dev → staging → production, agents, gates, drift, rollback',
  usage: 'promote demo [--project <dir>] [--registry <repository>] [--kubeconfig <file>]',
  description: `
Runs the product end to end in one process, on the example in this repository (or on a project
made by \`promote init\`): creates keys, builds and signs release 1.0 of the bundle, lets
\`promote run --once\` take it to dev, runs one agent per cluster (directories under
.promote/clusters/), shows \`promote to staging\` refused until dev converged, \`promote to
production\` refused until a second person approved, sends release 1.1 after it (into dev while
1.0 soaks in staging), edits a production cluster by hand (drift: detected, then corrected) and
rolls production back to 1.0. Each step prints one line on stderr; stdout gets the stage ×
cluster status table, the commands to look at what it left on disk, and the wall time.

Nothing is simulated: the gates read the agents' signed status reports and the real clock, so
the example pipeline soaks for seconds, not hours. The demo's state lives in <project>/.promote/
(registry, ledger, clusters) and is reset at the start of every run; keys in .promote/keys are
kept. A pipeline whose registry or ledger lies elsewhere (a team's real ones) is refused. Key password: PROMOTE_PASSWORD, else the fixed demo password "promote-demo" (demo only).
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
    { title: 'Against a real registry (plain HTTP on localhost)', command: 'promote demo --registry localhost:5000/acme/webapp --insecure' },
    { title: 'A machine-readable summary (steps, digests, status) for scripts', command: 'promote demo --output json' },
  ],
  async run(ctx, args) {
    const { resolve } = await import('node:path');
    const { runDemo } = await import('../../demo/demo.ts');
    const { demoText } = await import('../../demo/demo-text.ts');
    const registry = stringOption(args, 'registry');
    const kubeconfig = stringOption(args, 'kubeconfig');
    ctx.log('promote demo: build once, promote the same digest dev → staging → production (state in .promote/, reset first)');
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
