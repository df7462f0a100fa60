import type { Command } from '../command.ts';
import { flag, listOption, stringOption } from '../command.ts';
import { REGISTRY_HELP, REGISTRY_OPTIONS } from '../registry-options.ts';
import { targetHelp, targetOptions, targetSyntax } from '../../agent/targets/open-target.ts';

const TARGET_OPTIONS = targetOptions();

export const command: Command = {
  name: 'agent',
  summary: 'the per-cluster agent: pull the promoted record for a stage, verify, render, converge a target, report status',
  usage: `promote agent --stage <stage> --cluster <name> --target ${targetSyntax()} [options]`,
  description: `
Each round resolves the stage's promotion record (tag promotion-<stage>: one HEAD when nothing
changed). A new record is verified — signed by a promotion key, for this pipeline, stage and
cluster, attached to its bundle — then the bundle (signature, digests), then the recorded
parameters against the bundle's schema; only then is it rendered and applied. Anything that does
not verify is refused and nothing is applied: the target keeps its last good state.

Targets (--target):
${targetHelp()}

Drift is corrected each round unless --no-self-heal. After each change the agent publishes a
signed status report (tag status-<stage>-<cluster>) that the converged and soak gates read.

With --policy <file> (a kind: Policy file, docs/policy.md) every render is judged by its rules
after verifying and before applying: a violation refuses the record (Refused, PolicyViolation,
naming the first violating objects) and nothing is applied. Run the same file as the stage's
policy gate: the gate stops the promotion, the agent stops what got past it.

Phases: Progressing, Converged, Degraded (applied, unhealthy), Drifted, Failed (could not apply),
Refused (did not verify, or broke --policy). With --once the exit code is 0 for Converged, 4 for
Refused (3 when refused by --policy), 1 else.
Logs are JSON lines on stderr; --metrics-address serves /healthz, /readyz and /metrics.

Replay protection: each record carries its stage's sequence number, and the agent refuses a
record older than the highest it accepted (RecordReplayed), across restarts. That mark is kept
per repository, pipeline, stage and cluster in <cache root>/agent; the cache root is
PROMOTE_CACHE_DIR, else $XDG_CACHE_HOME/promote, else ~/.cache/promote. An agent upgraded from a
version that kept it as <bundles>/sequence-<pipeline>-<stage>-<cluster> reads that file once as
its floor. With no state at all (a new pod), the floor is the record number its own last
signed report names. Reports are numbered too, and a restart keeps the last report's since only
when that report is the newest this agent's state says it published.

${REGISTRY_HELP}`,
  positionals: { min: 0, max: 0 },
  options: {
    pipeline: { type: 'string', short: 'p', valueName: 'name|file', description: 'the pipeline (pipelines/<name>.yaml); with --repository, just its name' },
    stage: { type: 'string', short: 's', valueName: 'stage', description: 'the stage this agent converges (required)' },
    cluster: { type: 'string', short: 'c', valueName: 'name', description: "this cluster's name in the stage's environment (required)" },
    target: { type: 'string', short: 't', valueName: targetSyntax().replace(/[<>]/g, ''), description: 'what to converge (required)' },
    interval: { type: 'string', valueName: 'duration', description: 'time between rounds, e.g. 30s, 5m', default: '30s' },
    once: { type: 'boolean', description: 'one round, then exit with its phase' },
    'no-self-heal': { type: 'boolean', description: 'report drift as Drifted instead of correcting it' },
    'health-timeout': { type: 'string', valueName: 'duration', description: 'how long to wait for health before reporting Degraded', default: '2m' },
    'stall-timeout': { type: 'string', valueName: 'duration', description: '/healthz answers 503 once a round has run this long (default: 3 × --interval, at least 10m)' },
    key: { type: 'string', short: 'k', valueName: 'file', description: 'private key that signs status reports, refused unless trust.agents lists it (default: PROMOTE_AGENT_KEY; password: PROMOTE_PASSWORD)' },
    repository: { type: 'string', valueName: 'repository', description: "the bundle repository, when there is no pipeline file (in a cluster)" },
    'promotion-key': { type: 'string', multiple: true, valueName: 'pem', description: 'public key trusted to sign promotion records (instead of the pipeline\'s trust.promotions)' },
    'bundle-key': { type: 'string', multiple: true, valueName: 'pem', description: 'public key trusted to sign bundles (instead of trust.bundles)' },
    policy: { type: 'string', valueName: 'file', description: 'a kind: Policy file every render must meet before anything is applied (else Refused PolicyViolation)' },
    'metrics-address': { type: 'string', valueName: 'host:port', description: 'serve /healthz, /readyz and /metrics here (e.g. 127.0.0.1:9090, :9090 in a pod)' },
    ...TARGET_OPTIONS,
    'cache-dir': { type: 'string', valueName: 'dir', description: 'where verified bundles are kept by digest (default <cache root>/bundles)' },
    ...REGISTRY_OPTIONS,
  },
  examples: [
    { title: 'Converge a directory once on the embedded defaults (demo, CI)', command: 'promote agent --stage dev --cluster dev-1 --target dir:./out/dev --once --key keys/agent.key' },
    { title: 'Run in a cluster with the in-cluster service account', command: 'promote agent --pipeline webapp --repository registry.example.com/acme/webapp --promotion-key /keys/promoter.pub --bundle-key /keys/ci.pub --stage production --cluster prod-eu-1 --target kubernetes --metrics-address :9090' },
    { title: 'Watch for drift without correcting it', command: 'promote agent --stage staging --cluster staging-eu-1 --target kubernetes --kubeconfig ~/.kube/staging --no-self-heal' },
    { title: 'Enforce the production policy before every apply', command: 'promote agent --stage production --cluster prod-eu-1 --target kubernetes --policy policies/production.yaml' },
    { title: 'One round, machine-readable status', command: 'promote agent --stage dev --cluster dev-1 --target dir:/srv/webapp --once --output json' },
  ],
  async run(ctx, args) {
    const { PromoteError } = await import('../../errors.ts');
    const { parseDuration } = await import('../../pipeline/duration.ts');
    const { registryOptions } = await import('../registry-options.ts');
    const { runAgent } = await import('../../agent/agent.ts');
    const { redactDeep } = await import('../../redact.ts');
    const required = (name: string): string => {
      const v = stringOption(args, name);
      if (!v) throw new PromoteError('USAGE', `agent needs --${name}`, { outcome: 'usage', hint: `run 'promote agent --help' for usage and examples` });
      return v;
    };
    const duration = (name: string, min: number): number => {
      const text = stringOption(args, name)!;
      const ms = parseDuration(text);
      if (ms === undefined || ms < min) throw new PromoteError('USAGE', `--${name} must be a duration of at least ${min / 1000}s, not "${text}"`, { outcome: 'usage', hint: 'e.g. 30s, 5m' });
      return ms;
    };
    const stage = required('stage');
    const cluster = required('cluster');
    const target = required('target');
    const intervalMs = duration('interval', 1000);
    const healthTimeoutMs = duration('health-timeout', 0);
    const stallAfterMs = stringOption(args, 'stall-timeout') === undefined ? undefined : duration('stall-timeout', 1000);
    const once = flag(args, 'once');
    const controller = new AbortController();
    const stop = (): void => controller.abort();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    try {
      const opt = (name: string) => stringOption(args, name);
      const status = await runAgent({
        cwd: ctx.cwd,
        env: ctx.env,
        interactive: ctx.interactive,
        stage,
        cluster,
        target,
        intervalMs,
        healthTimeoutMs,
        ...(stallAfterMs !== undefined && { stallAfterMs }),
        once,
        selfHeal: !flag(args, 'no-self-heal'),
        targetOptions: Object.fromEntries(Object.keys(TARGET_OPTIONS).map((f) => [f, TARGET_OPTIONS[f]!.type === 'boolean' ? flag(args, f) : stringOption(args, f)])),
        registry: await registryOptions(ctx, args),
        promotionKeys: listOption(args, 'promotion-key'),
        bundleKeys: listOption(args, 'bundle-key'),
        signal: controller.signal,
        // JSON lines on stderr, what log shippers read (redacted again here, at the boundary).
        log: (entry) => process.stderr.write(`${JSON.stringify(redactDeep(entry))}\n`),
        ...(opt('pipeline') && { pipeline: opt('pipeline') }),
        ...(opt('repository') && { repository: opt('repository') }),
        ...(opt('key') && { key: opt('key') }),
        ...(opt('metrics-address') && { metricsAddress: opt('metrics-address') }),
        ...(opt('policy') && { policy: opt('policy') }),
        ...(opt('cache-dir') && { cacheDir: opt('cache-dir') }),
      });
      const phase = status?.phase;
      const text = status ? `${status.phase}: ${status.message}${status.record ? `\nrecord ${status.record}` : ''}${status.bundle ? `\nbundle ${status.bundle}` : ''}` : 'stopped';
      const outcome = !once || phase === 'Converged' ? undefined : phase === 'Refused' ? (status?.reason === 'PolicyViolation' ? ('refused' as const) : ('verification' as const)) : ('failed' as const);
      return { data: status ?? null, text, ...(outcome && { outcome }) };
    } finally {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    }
  },
};
