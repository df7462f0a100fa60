import type { Command } from '../command.ts';
import { stringOption } from '../command.ts';
import { KEY_OPTION, PROMOTION_OPTIONS, projectOptions } from '../promotion-options.ts';
import { REGISTRY_HELP } from '../registry-options.ts';

export const command: Command = {
  name: 'run',
  summary: 'automatic promotion: promote every `promotion: auto` stage whose gates pass (a controller, or one pass with --once)',
  usage: 'promote run [--once] [--interval <duration>] [--key <file>] [options]',
  description: `
For each stage with promotion: auto, upstream first: the first stage takes the newest bundle
in the repository; later stages take what their \`from\` stage runs, once their gates pass. Each
promotion is exactly \`promote to\` (signature, parameters, gates, ledger, signed record), and
never forced; a stage whose environment's parameters changed while its bundle did not gets a
configuration change (configured). Held stages are skipped. Without --once it runs until interrupted, one pass every
--interval; each pass prints one line per stage (waiting, promoted, configured, held, …).

${REGISTRY_HELP}`,
  positionals: { min: 0, max: 0 },
  options: {
    once: { type: 'boolean', description: 'one pass, then exit (for cron jobs and CI steps)' },
    interval: { type: 'string', valueName: 'duration', description: 'time between passes, e.g. 30s, 5m', default: '30s' },
    ...KEY_OPTION,
    ...PROMOTION_OPTIONS,
  },
  examples: [
    { title: 'One pass from a CI job after every push', command: 'promote run --once --key keys/promoter.key' },
    { title: 'Run as a controller, checking every minute', command: 'PROMOTE_KEY=/secrets/promoter.key promote run --interval 1m' },
    { title: 'One pass, machine-readable', command: 'promote run --once --output json' },
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
    const options = await projectOptions(ctx, args);
    const onPass = (pass: Parameters<typeof runText>[0]): void => ctx.log(`${new Date().toISOString()} pass:\n${runText(pass)}`);
    // One pass is not stopped gracefully: Ctrl-C ends it (exit 130) like any other command.
    const outcomes = once ? await runCommand(options, true, interval, onPass, new AbortController().signal) : await untilStopped((signal) => runCommand(options, false, interval, onPass, signal));
    const failed = outcomes.some((o) => o.result === 'error');
    return { data: outcomes, text: once ? runText(outcomes) : 'stopped', ...(failed && { outcome: 'failed' as const }) };
  },
};
