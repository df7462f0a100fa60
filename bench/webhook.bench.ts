// Push-to-promoted latency (issue 17, "signals in"): how long after a signed bundle lands in the
// registry `promote run` has promoted it to dev, with the registry's webhook wired to
// `promote run --listen` versus the polling path at a given --interval. Both controllers are the
// real CLI against one real registry (docker-registry, notifying the listener) and real git
// remotes, run side by side; bundles are pushed to each in turn. Polling waits on average half an
// interval; the webhook should be well under one (the "done when").
// Sized by env: BENCH_WEBHOOK_RUNS (pushes per path, default 5), BENCH_POLL_INTERVAL (default 10s);
// BENCH_VERBOSE=1 prints the listening controller's log (each event, each pass).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN } from '../test/bundle/helpers.ts';
import { freePort, startRegistry } from '../test/harness/registry.ts';
import { createProject, type TestProject } from '../test/promotion/project.ts';

const runs = Number(process.env.BENCH_WEBHOOK_RUNS ?? 5);
const interval = process.env.BENCH_POLL_INTERVAL ?? '10s';

interface Controller { child: ChildProcess; stderr: () => string; waitFor(re: RegExp, from: number, ms: number): Promise<void> }

function startRun(p: TestProject, args: string[], env: NodeJS.ProcessEnv): Controller {
  const child = spawn(process.execPath, [BIN, 'run', ...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1', ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stderr!.on('data', (d) => { stderr += d; for (const w of waiters) w(); });
  return {
    child,
    stderr: () => stderr,
    waitFor: (re, from, ms) => new Promise((resolve, reject) => {
      const check = () => { if (re.test(stderr.slice(from))) { done(); resolve(); } };
      const timer = setTimeout(() => { done(); reject(new Error(`no ${re} within ${ms} ms:\n${stderr.slice(from)}`)); }, ms);
      const done = () => { clearTimeout(timer); waiters.delete(check); };
      waiters.add(check);
      check();
    }),
  };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

const base = await mkdtemp(join(tmpdir(), 'promote-bench-webhook-'));
const port = await freePort();
const secret = randomBytes(24).toString('hex');
const registry = await startRegistry({ notifications: [{ name: 'promote', url: `http://127.0.0.1:${port}/hooks`, bearer: secret }] });
const controllers: ChildProcess[] = [];
try {
  const wired = await createProject(join(base, 'wired'), registry.host, { name: 'wired', productionGates: '[]' });
  const polled = await createProject(join(base, 'polled'), registry.host, { name: 'polled', productionGates: '[]' });
  const listen = startRun(wired, ['--interval', '10m', '--listen', `127.0.0.1:${port}`], { PROMOTE_LISTEN_SECRET: secret });
  const poll = startRun(polled, ['--interval', interval], {});
  controllers.push(listen.child, poll.child);
  await Promise.all([listen.waitFor(/pass:\ndev +nothing/, 0, 60_000), poll.waitFor(/pass:\ndev +nothing/, 0, 60_000)]);

  const { parseDuration } = await import('../src/pipeline/duration.ts');
  const intervalMs = parseDuration(interval)!;
  const times = { webhook: [] as number[], polling: [] as number[] };
  for (let i = 1; i <= runs; i++) {
    for (const [kind, p, c] of [['webhook', wired, listen], ['polling', polled, poll]] as const) {
      // A random point in the poll cycle: pushing right after the last promotion would measure
      // almost a whole interval every time (the rounds would lock to the polling phase).
      await new Promise((r) => setTimeout(r, Math.random() * intervalMs));
      const from = c.stderr().length;
      const digest = await p.push(i);
      // From the moment the signed bundle is complete in the registry (bundle and signature).
      const t0 = Date.now();
      await c.waitFor(new RegExp(`pass:\\ndev +promoted +${digest.slice(0, 19)}`), from, 120_000);
      times[kind].push(Date.now() - t0);
      process.stderr.write(`${kind} #${i}: ${Date.now() - t0} ms\n`);
    }
  }

  if (process.env.BENCH_VERBOSE) process.stderr.write(listen.stderr());
  const ms = (x: number) => `${x.toFixed(0)} ms`;
  const rows = [
    ['path', 'median', 'mean', 'max'],
    ['webhook (run --listen, interval 10m)', ms(median(times.webhook)), ms(mean(times.webhook)), ms(Math.max(...times.webhook))],
    [`polling (run --interval ${interval})`, ms(median(times.polling)), ms(mean(times.polling)), ms(Math.max(...times.polling))],
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  for (const r of rows) process.stdout.write(`${r.map((c, i) => c.padEnd(widths[i]!)).join('  ')}\n`);
  const ratio = mean(times.polling) / mean(times.webhook);
  process.stdout.write(`\npush to dev promoted, ${runs} pushes per path: polling / webhook = ${ratio.toFixed(1)}x (mean)\n`);
  // "Well under one polling interval": the slowest webhook run under a quarter of the interval.
  const ok = Math.max(...times.webhook) < intervalMs / 4;
  process.stdout.write(`${ok ? 'PASS' : 'FAIL'}: slowest webhook ${ms(Math.max(...times.webhook))} vs a quarter interval ${ms(intervalMs / 4)}\n`);
  if (!ok) process.exitCode = 1;
} finally {
  for (const c of controllers) c.kill('SIGINT');
  await Promise.all(controllers.map((c) => new Promise((r) => (c.exitCode !== null ? r(null) : c.once('close', r)))));
  await registry.stop();
  await rm(base, { recursive: true, force: true });
}
