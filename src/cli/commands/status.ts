import type { Command } from '../command.ts';
import { flag, stringOption } from '../command.ts';
import { REGISTRY_HELP, REGISTRY_OPTIONS } from '../registry-options.ts';

export const command: Command = {
  name: 'status',
  summary: 'stage × cluster: the desired digest from the ledger, what each agent reports, phase and since',
  usage: 'promote status [pipeline] [--watch] [options]',
  description: `
For every stage of the pipeline and every cluster of its environment: the bundle the ledger says
the stage runs (DESIRED), the bundle the cluster's agent last reported (OBSERVED), its phase
(Converged, Degraded, Drifted, Failed, Refused, …) and how long it has held. Reports are read
from the status-<stage>-<cluster> tags and verified against the pipeline's trust.agents (or the
promotion signers); an untrusted report is shown as such. DESIRED/OBSERVED are the first 12 hex
digits of the digests; --output json has them whole. NOTE says "parameters pending" when the
stage's environment file no longer matches the parameters of its record (promote to applies
them), "parameters invalid" when they break the bundle's schema (the stage keeps its last good
record), and "runs an older record" when a cluster has not converged on the latest record yet.

${REGISTRY_HELP}`,
  positionals: { min: 0, max: 1 },
  options: {
    watch: { type: 'boolean', short: 'w', description: 'print the table again every --interval until interrupted' },
    interval: { type: 'string', valueName: 'duration', description: 'time between tables with --watch', default: '5s' },
    ...REGISTRY_OPTIONS,
  },
  examples: [
    { title: 'Where is every stage, and did every cluster converge?', command: 'promote status' },
    { title: 'One pipeline, for a script', command: 'promote status webapp --output json' },
    { title: 'Follow a rollout', command: 'promote status --watch --interval 2s' },
  ],
  async run(ctx, args) {
    const { PromoteError } = await import('../../errors.ts');
    const { parseDuration } = await import('../../pipeline/duration.ts');
    const { registryOptions } = await import('../registry-options.ts');
    const { pipelineStatus, statusTable } = await import('../../promotion/status.ts');
    const options = { cwd: ctx.cwd, env: ctx.env, registry: await registryOptions(ctx, args), ...(args.positionals[0] && { pipeline: args.positionals[0] }) };
    if (!flag(args, 'watch')) {
      const status = await pipelineStatus(options);
      return { data: status, text: statusTable(status) };
    }
    const text = stringOption(args, 'interval') ?? '5s';
    const interval = parseDuration(text);
    if (interval === undefined || interval < 1000) throw new PromoteError('USAGE', `--interval must be a duration of at least 1s, not "${text}"`, { outcome: 'usage', hint: 'e.g. --interval 2s' });
    const { untilStopped } = await import('../stop-signal.ts');
    const last = await untilStopped(async (signal) => {
      let status;
      while (!signal.aborted) {
        status = await pipelineStatus(options);
        // Each table is a result: stdout, one JSON document per line with --output json.
        ctx.emit(status, statusTable(status));
        await new Promise<void>((resolve) => {
          const t = setTimeout(resolve, interval);
          signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
        });
      }
      return status;
    });
    return { data: last ?? null, text: 'stopped' };
  },
};
