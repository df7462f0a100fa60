import type { Command } from '../command.ts';
import { stringOption } from '../command.ts';
import { KEY_OPTION, PROMOTION_OPTIONS, projectOptions } from '../promotion-options.ts';
import { REGISTRY_HELP } from '../registry-options.ts';

export const command: Command = {
  name: 'run',
  summary: 'automatic promotion: promote every `promotion: auto` stage whose gates pass (a controller, or one pass with --once)',
  usage: 'promote run [--once] [--interval <duration>] [--listen <host:port> --listen-secret-file <file>] [--key <file>] [options]',
  description: `
For each stage with promotion: auto, upstream first: the first stage takes the newest bundle
in the repository; later stages take what their \`from\` stage runs, once their gates pass. Each
promotion is exactly \`promote to\` (signature, parameters, gates, ledger, signed record), and
never forced; a stage whose environment's parameters changed while its bundle did not gets a
configuration change (configured). A stage rolling out in waves (rollout:, manual stages too)
has its next wave released once the wave's gates pass (released), or is reported stopped;
docs/rollouts.md. Held stages are skipped. Without --once it runs until interrupted, one pass every
--interval; each pass prints one line per stage (waiting, promoted, configured, held, …).

With --listen it also receives webhooks on that address (HTTP; bind it to 127.0.0.1 behind a
TLS proxy): registry push notifications (distribution's notifications.endpoints, Harbor, GHCR
package events) for any stage's repository, and git pushes (GitHub, GitLab, Gitea/Forgejo) to
the ledger branch or the project's own repository start a pass at once instead of at the next
--interval. Every request must prove the shared secret (--listen-secret-file or
PROMOTE_LISTEN_SECRET): Authorization: Bearer, an X-Hub-Signature-256 HMAC of the body, or
X-Gitlab-Token. GET /healthz answers 200. See docs/webhooks.md.

${REGISTRY_HELP}`,
  positionals: { min: 0, max: 0 },
  options: {
    once: { type: 'boolean', description: 'one pass, then exit (for cron jobs and CI steps)' },
    interval: { type: 'string', valueName: 'duration', description: 'time between passes, e.g. 30s, 5m', default: '30s' },
    listen: { type: 'string', valueName: 'host:port', description: 'also receive registry and git push webhooks on this address, each starting a pass at once' },
    'listen-secret-file': { type: 'string', valueName: 'file', description: 'file holding the shared secret webhooks must prove (else $PROMOTE_LISTEN_SECRET; one is required with --listen)' },
    ...KEY_OPTION,
    ...PROMOTION_OPTIONS,
  },
  examples: [
    { title: 'One pass from a CI job after every push', command: 'promote run --once --key keys/promoter.key' },
    { title: 'Run as a controller, checking every minute', command: 'PROMOTE_KEY=/secrets/promoter.key promote run --interval 1m' },
    { title: 'One pass, machine-readable', command: 'promote run --once --output json' },
    { title: 'Also pass at once on registry and git push webhooks', command: 'promote run --interval 10m --listen 127.0.0.1:8080 --listen-secret-file /secrets/webhook' },
  ],
  async run(ctx, args) {
    const { PromoteError } = await import('../../errors.ts');
    const { parseDuration } = await import('../../pipeline/duration.ts');
    const { runCommand } = await import('../../promotion/actions.ts');
    const { runText } = await import('../promotion-text.ts');
    const { untilStopped } = await import('../stop-signal.ts');
    const intervalText = stringOption(args, 'interval') ?? '30s';
    const interval = parseDuration(intervalText);
    if (interval === undefined || interval < 1000) throw new PromoteError('USAGE', `--interval must be a duration of at least 1s, not "${intervalText}"`, { outcome: 'usage', hint: 'e.g. --interval 30s or --interval 5m' });
    const once = args.values.once === true;
    const listenAddress = stringOption(args, 'listen');
    const secretFile = stringOption(args, 'listen-secret-file');
    if (listenAddress === undefined && secretFile !== undefined) throw new PromoteError('USAGE', '--listen-secret-file is only used with --listen', { outcome: 'usage', hint: 'add --listen <host:port>, or drop --listen-secret-file' });
    if (listenAddress !== undefined && once) throw new PromoteError('USAGE', '--listen cannot be combined with --once', { outcome: 'usage', hint: 'drop --once to run as a controller that listens' });
    let listen: import('../../promotion/run.ts').RunListen | undefined;
    if (listenAddress !== undefined) {
      const { parseListenAddress, readListenSecret } = await import('../../promotion/listen.ts');
      parseListenAddress(listenAddress);
      listen = { address: listenAddress, secret: await readListenSecret(secretFile, ctx.env), log: (line) => ctx.log(line) };
    }
    const options = await projectOptions(ctx, args);
    const onPass = (pass: Parameters<typeof runText>[0]): void => ctx.log(`${new Date().toISOString()} pass:\n${runText(pass)}`);
    // One pass is not stopped gracefully: Ctrl-C ends it (exit 130) like any other command.
    const outcomes = once ? await runCommand(options, true, interval, onPass, new AbortController().signal) : await untilStopped((signal) => runCommand(options, false, interval, onPass, signal, listen));
    const failed = outcomes.some((o) => o.result === 'error');
    return { data: outcomes, text: once ? runText(outcomes) : 'stopped', ...(failed && { outcome: 'failed' as const }) };
  },
};
