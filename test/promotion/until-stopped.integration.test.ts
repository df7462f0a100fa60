import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { BIN } from '../bundle/helpers.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from './project.ts';

// `promote status --watch` and `promote run` (without --once) run until interrupted: the real
// CLI gets SIGINT after its first results, stops gracefully and exits 0, having printed each
// result as it came (stdout) and its passes (stderr). The signals are the CLI's (src/cli/
// stop-signal.ts); the library only sees an AbortSignal.

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-until-stopped-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

/** Starts the CLI, sends SIGINT once `ready(stdout, stderr)` holds; resolves the exit and the output. */
function interruptWhen(p: TestProject, args: string[], ready: (stdout: string, stderr: string) => boolean): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let sent = false;
    const killer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const check = () => {
      if (!sent && ready(stdout, stderr)) {
        sent = true;
        child.kill('SIGINT');
      }
    };
    child.stdout.on('data', (d) => { stdout += d; check(); });
    child.stderr.on('data', (d) => { stderr += d; check(); });
    child.on('error', reject);
    child.on('close', (code, signal) => { clearTimeout(killer); resolve({ code, signal, stdout, stderr }); });
  });
}

test('status --watch prints one JSON document per line until SIGINT, then the last one as its result, exit 0; text tables are a blank line apart', async () => {
  const p = await createProject(join(base, 'watch'), registry.host, { name: 'watch' });
  const d1 = await p.push(1);
  const project = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(base, 'watch-cache') });
  await promoteTo(project, { stage: 'dev', bundle: d1 });

  const json = await interruptWhen(p, ['status', '--watch', '--interval', '1s', '--output', 'json'], (out) => out.split('\n').length > 2);
  assert.equal(json.code, 0, json.stderr);
  const lines = json.stdout.split('\n');
  const streamed = lines.filter((l) => l.startsWith('{"pipeline"'));
  assert.ok(streamed.length >= 2, json.stdout);
  for (const line of streamed) assert.equal(JSON.parse(line).clusters.find((c: { stage: string }) => c.stage === 'dev').desired.bundle, d1);
  // The command's result follows: the last table again, pretty-printed.
  const result = json.stdout.slice(json.stdout.indexOf('\n{\n') + 1);
  assert.equal(JSON.parse(result).pipeline, 'webapp');

  const text = await interruptWhen(p, ['status', '--watch', '--interval', '1s'], (out) => (out.match(/\n\n/g) ?? []).length >= 2);
  assert.equal(text.code, 0, text.stderr);
  const tables = text.stdout.split('\n\n');
  assert.ok(tables.length >= 3, text.stdout);
  assert.match(tables[0]!, /dev/);
  assert.equal(tables.at(-1), 'stopped\n');
});

test('promote run without --once passes until SIGINT (each pass on stderr), then says stopped, exit 0', async () => {
  const p = await createProject(join(base, 'run'), registry.host, { name: 'run' });
  const d1 = await p.push(1);
  const run = await interruptWhen(p, ['run', '--interval', '1s'], (_out, err) => (err.match(/ pass:\n/g) ?? []).length >= 2);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout, 'stopped\n');
  assert.match(run.stderr, new RegExp(`pass:\ndev +promoted +${d1.slice(0, 19)}`));
  assert.match(run.stderr, new RegExp(`pass:\ndev +up-to-date +${d1.slice(0, 19)}`));
});
