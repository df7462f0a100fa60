import { createRequire } from 'node:module';
import { runCleanups } from '../cleanup.ts';
import { PromoteError } from '../errors.ts';
import { redact } from '../redact.ts';
import type { Command, CommandContext, OptionSpec, OutputFormat, ParsedArgs } from './command.ts';
import { printError, printResult, printSeriesResult, type Streams } from './output.ts';

// require() rather than `import … from 'node:util'`: the ES module facade evaluates every export
// of node:util, loading ~30 of Node's internal modules that parsing arguments never uses.
const { parseArgs } = createRequire(import.meta.url)('node:util') as typeof import('node:util');

// Thin by design: parse → one library call → print. Command files are imported lazily, so
// `promote --help` loads this file only (changesets' lazy command imports).

interface CommandEntry {
  summary: string;
  load: () => Promise<{ command: Command }>;
}

export const COMMANDS: Record<string, CommandEntry> = {
  build: { summary: 'build a bundle directory into a reproducible OCI artefact and print its digest', load: () => import('./commands/build.ts') },
  push: { summary: 'build a bundle and push it to a registry (or OCI layout); prints repository@sha256:…', load: () => import('./commands/push.ts') },
  pull: { summary: "pull a bundle's files, verifying every digest", load: () => import('./commands/pull.ts') },
  inspect: { summary: 'show a bundle: manifest, annotations, files with sizes, signatures and records', load: () => import('./commands/inspect.ts') },
  copy: { summary: 'copy a bundle with its signatures and promotion records to another registry or layout', load: () => import('./commands/copy.ts') },
  keygen: { summary: 'create a signing key pair: cosign-format encrypted private key + PEM public key', load: () => import('./commands/keygen.ts') },
  sign: { summary: 'sign a bundle by digest (cosign-compatible signature at sha256-<hex>.sig)', load: () => import('./commands/sign.ts') },
  verify: { summary: 'verify that a bundle is signed by a trusted key or identity (cosign-compatible)', load: () => import('./commands/verify.ts') },
  validate: { summary: 'check pipelines, environments and parameters against their schemas; list every problem', load: () => import('./commands/validate.ts') },
  render: { summary: 'print the exact manifests an agent would apply for an environment (and cluster)', load: () => import('./commands/render.ts') },
  'diff-env': { summary: 'show what differs between two environments: the parameters, and the rendered diff', load: () => import('./commands/diff-env.ts') },
  plan: { summary: 'show what `promote to <stage>` would do: the digest, its signature and parameters, every gate with evidence', load: () => import('./commands/plan.ts') },
  to: { summary: 'promote a bundle digest into a stage through its gates; record it in the ledger and publish the signed record', load: () => import('./commands/to.ts') },
  approve: { summary: "record your approval of a bundle digest for a stage (counted by the stage's approval gate)", load: () => import('./commands/approve.ts') },
  run: { summary: 'automatic promotion: promote every `promotion: auto` stage whose gates pass (a controller, or one pass with --once)', load: () => import('./commands/run.ts') },
  hold: { summary: 'stop promotions and rollbacks into a stage (automatic and manual) until `promote release`', load: () => import('./commands/hold.ts') },
  release: { summary: 'lift a hold: promotions and rollbacks into the stage may proceed again', load: () => import('./commands/release.ts') },
  rollback: { summary: 'promote an earlier bundle of a stage again: a new record through the same gates (or --force with a reason)', load: () => import('./commands/rollback.ts') },
  history: { summary: 'the ledger of one stage: every promotion, rollback, approval and hold — digest, from, who, when, gates', load: () => import('./commands/history.ts') },
  status: { summary: 'stage × cluster: the desired digest from the ledger, what each agent reports, phase and since', load: () => import('./commands/status.ts') },
  agent: { summary: 'the per-cluster agent: pull the promoted record for a stage, verify, render, converge a target, report status', load: () => import('./commands/agent.ts') },
  ui: { summary: 'the pipeline in a browser: stages, clusters, gates, bundles and history, live (read-only unless --allow-actions)', load: () => import('./commands/ui.ts') },
  demo: { summary: 'the whole flow on the embedded defaults: build, sign, promote through every stage (dev → staging → production), agents, gates, drift, rollback', load: () => import('./commands/demo.ts') },
  init: { summary: 'scaffold a project: a bundle with its parameter schema, three environments, a pipeline, keys', load: () => import('./commands/init.ts') },
  import: { summary: 'turn per-environment copies (kustomize overlays, values files of a chart, manifest folders) into one bundle and environments, proven equivalent', load: () => import('./commands/import.ts') },
  completion: { summary: 'print a shell completion script (bash, zsh or fish)', load: () => import('./commands/completion.ts') },
  version: { summary: 'print the version, the commit it was built from and the Node.js runtime', load: () => import('./commands/version.ts') },
};

export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  output: { type: 'string', valueName: 'text|json', description: 'result format on stdout', default: 'text' },
  debug: { type: 'boolean', description: 'show stack traces and causes of errors' },
  help: { type: 'boolean', short: 'h', description: 'show help for the command' },
};

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, o]) => {
    const short = o.short ? `-${o.short}, ` : '    ';
    const value = o.type === 'string' ? ` <${o.valueName ?? 'value'}>` : '';
    const extra = [o.multiple ? 'repeatable' : '', o.default !== undefined && o.default !== false ? `default: ${o.default}` : '']
      .filter(Boolean)
      .join('; ');
    return [`  ${short}--${name}${value}`, extra ? `${o.description} (${extra})` : o.description] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length)) + 2;
  return rows.map(([l, r]) => `${l.padEnd(width)}${r}`);
}

export function commandHelp(cmd: Command): string {
  const out = [`${cmd.summary}`, '', `Usage:\n  ${cmd.usage}`];
  if (cmd.description) out.push('', cmd.description.trim());
  if (cmd.options && Object.keys(cmd.options).length) out.push('', 'Options:', ...optionLines(cmd.options));
  out.push('', 'Global options:', ...optionLines(GLOBAL_OPTIONS));
  if (cmd.examples?.length) {
    out.push('', 'Examples:');
    for (const ex of cmd.examples) out.push(`  # ${ex.title}`, `  ${ex.command}`, '');
    out.pop();
  }
  return `${out.join('\n')}\n`;
}

export function mainHelp(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length)) + 3;
  const lines = Object.entries(COMMANDS).map(([name, e]) => `  ${name.padEnd(width)}${e.summary}`);
  return [
    'promote — build once, deploy many: config bundles as signed OCI artefacts,',
    'promoted by digest through gated environments.',
    '',
    'Usage:',
    '  promote <command> [arguments] [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Global options:',
    ...optionLines(GLOBAL_OPTIONS),
    '      --version             print the version, commit and Node.js runtime (= promote version)',
    '',
    'Exit codes: 0 done, 1 failed, 2 usage, 3 refused by a gate or policy, 4 verification failed.',
    "Run 'promote <command> --help' for a command's options and examples.",
    '',
  ].join('\n');
}

function usageError(message: string, hint: string): PromoteError {
  return new PromoteError('USAGE', message, { outcome: 'usage', hint });
}

function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs & { global: { output: OutputFormat; debug: boolean; help: boolean } } {
  const all = { ...GLOBAL_OPTIONS, ...(cmd.options ?? {}) };
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, o] of Object.entries(all)) {
    options[name] = { type: o.type, ...(o.short && { short: o.short }), ...(o.multiple && { multiple: true }) };
  }
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usageError((err as Error).message.replace(/\. To specify a positional argument.*$/s, ''), `run 'promote ${cmd.name} --help' for its options`);
  }
  const values = parsed.values as ParsedArgs['values'];
  for (const [name, o] of Object.entries(all)) {
    if (values[name] === undefined && o.default !== undefined) values[name] = o.default;
  }
  const output = values.output;
  if (output !== 'text' && output !== 'json') {
    throw usageError(`--output must be "text" or "json", not "${String(output)}"`, 'use --output json for scripts');
  }
  const help = values.help === true;
  const { min, max } = cmd.positionals ?? { min: 0, max: 0 };
  if (!help && (parsed.positionals.length < min || parsed.positionals.length > max)) {
    const got = parsed.positionals.length;
    throw usageError(
      got < min ? `${cmd.name}: missing argument (usage: ${cmd.usage})` : `${cmd.name}: unexpected argument "${parsed.positionals[max]}"`,
      `run 'promote ${cmd.name} --help' for usage and examples`,
    );
  }
  return { positionals: parsed.positionals, values, global: { output, debug: values.debug === true, help } };
}

export interface MainIO extends Streams {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stdinIsTTY: boolean;
  stderrIsTTY: boolean;
  stdoutIsTTY: boolean;
}

/**
 * The process's own streams, made when first used (written to, or asked whether they are a TTY):
 * until then stdin, stdout and stderr are left as they were given. (A stream made on a pipe puts
 * the pipe into non-blocking mode, which the process re-executed by src/cli/v8-memory-flags.ts —
 * and whoever else holds the pipe — would inherit.)
 */
function defaultIO(): MainIO {
  return {
    get stdout() {
      return process.stdout;
    },
    get stderr() {
      return process.stderr;
    },
    env: process.env,
    cwd: process.cwd(),
    get stdinIsTTY() {
      return process.stdin.isTTY === true;
    },
    get stderrIsTTY() {
      return process.stderr.isTTY === true;
    },
    get stdoutIsTTY() {
      return process.stdout.isTTY === true;
    },
  };
}

/** Compiled schema validators are kept between runs, in the cache root (src/params/stored-validators.ts). */
async function keepValidators(env: NodeJS.ProcessEnv): Promise<void> {
  const [{ storeValidatorsIn }, { promoteCacheRoot }, { join }] = await Promise.all([import('../params/stored-validators.ts'), import('../cache-root.ts'), import('node:path')]);
  storeValidatorsIn(join(promoteCacheRoot(env), 'validators'));
}

let signalsHandled = false;
/** How long an interrupted command waits for its cleanups before it exits anyway. */
const CLEANUP_DEADLINE_MS = 5000;

/**
 * Ctrl-C (SIGINT) and SIGTERM skip every `finally`: remove what src/cleanup.ts still holds (temp
 * directories), then exit 130/143 as a shell would report the signal. A command that stops
 * gracefully on the signal (agent, run, status --watch) has its own listener and is left to it;
 * a second signal then finds only this one and exits.
 */
function cleanUpOnSignals(): void {
  if (signalsHandled) return;
  signalsHandled = true;
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.on(signal, () => {
      if (process.listenerCount(signal) > 1) return;
      // A directory can already exist on disk while the callback that registers its cleanup is
      // still queued (the thread pool made it, the main thread has not run the continuation yet):
      // let such completions land first, then clean up.
      // A cleanup that never settles (a stream stuck mid-write) must not keep an interrupted
      // process alive: after CLEANUP_DEADLINE_MS it exits with what is left.
      void new Promise((settled) => setTimeout(settled, 30))
        .then(() => Promise.race([runCleanups(), new Promise((settled) => setTimeout(settled, CLEANUP_DEADLINE_MS).unref())]))
        .finally(() => process.exit(code));
    });
  }
}

/** Runs one invocation and returns its exit code; never calls process.exit (signals aside, for the real process). */
export async function main(argv: string[], io?: MainIO): Promise<number> {
  if (!io) {
    io = defaultIO();
    cleanUpOnSignals();
  }
  const first = argv[0];
  const wantsJson = argv.includes('--output=json') || argv.join(' ').includes('--output json');
  const wantsDebug = argv.includes('--debug');
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    const topic = first === 'help' ? argv[1] : undefined;
    if (topic === undefined) {
      io.stdout.write(mainHelp());
      return first === undefined ? 2 : 0;
    }
    argv = [topic, '--help'];
  } else if (first === '--version' || first === '-v') {
    argv = ['version', ...argv.slice(1)];
  }
  const name = argv[0]!;
  const entry = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!entry) {
    const near = Object.keys(COMMANDS).find((c) => c.startsWith(name.slice(0, 2)));
    return printError(
      io,
      wantsJson ? 'json' : 'text',
      usageError(`unknown command "${name}"`, near ? `did you mean "promote ${near}"? Run 'promote --help' for all commands` : "run 'promote --help' for all commands"),
      wantsDebug,
    );
  }
  let format: OutputFormat = wantsJson ? 'json' : 'text';
  let debug = wantsDebug;
  try {
    const { command } = await entry.load();
    const args = parseCommandArgs(command, argv.slice(1));
    format = args.global.output;
    debug = args.global.debug;
    if (args.global.help) {
      io.stdout.write(commandHelp(command));
      return 0;
    }
    await keepValidators(io.env);
    // Asked when first needed, not before the command runs (see defaultIO).
    let progressEnabled: boolean | undefined;
    let lastProgressLength = 0;
    const ctx: CommandContext = {
      output: format,
      debug,
      cwd: io.cwd,
      env: io.env,
      get interactive() {
        return io.stdinIsTTY;
      },
      get color() {
        return io.stdoutIsTTY && !io.env.NO_COLOR;
      },
      progress(message) {
        if (!(progressEnabled ??= io.stderrIsTTY)) return;
        const line = redact(message).slice(0, 120);
        io.stderr.write(`\r${line.padEnd(lastProgressLength)}`);
        lastProgressLength = line.length;
      },
      log(message) {
        if (lastProgressLength) {
          io.stderr.write(`\r${''.padEnd(lastProgressLength)}\r`);
          lastProgressLength = 0;
        }
        io.stderr.write(`${redact(message)}\n`);
      },
      emit(data, text) {
        printSeriesResult(io, format, data, text);
      },
    };
    const result = await command.run(ctx, args);
    if (lastProgressLength) io.stderr.write(`\r${''.padEnd(lastProgressLength)}\r`);
    printResult(io, format, result.data, result.text);
    return result.outcome ? { failed: 1, usage: 2, refused: 3, verification: 4 }[result.outcome] : 0;
  } catch (err) {
    return printError(io, format, err, debug);
  }
}
