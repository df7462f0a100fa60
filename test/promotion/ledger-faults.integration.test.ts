import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from './git-env.ts';
import { createProject, PIPELINE, PRODUCTION_GATES, type TestProject } from './project.ts';

// Faults of the ledger's git, met through the real CLI: a lock file a crashed git left behind,
// and a remote that accepts the connection and never answers.

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-ledger-faults-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

function promote(p: TestProject, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1', ...env }, killAfterMs: 60_000 });
}

test('a stale refs/heads/main.lock in the ledger remote is named, with what to do — not reported as a lost race', async () => {
  const p = await createProject(join(base, 'lock-remote'), registry.host, { name: 'lockremote' });
  const d1 = await p.push(1);
  assert.equal((await promote(p, ['to', 'dev', '--bundle', d1])).code, 0);
  const lock = join(p.ledgerRemote, 'refs', 'heads', 'main.lock');
  await writeFile(lock, '');
  const d2 = await p.push(2);
  const r = await promote(p, ['to', 'dev', '--bundle', d2]);
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /kept moving|lost the race/);
  assert.ok(r.stderr.includes(lock), r.stderr);
  assert.match(r.stderr, /hint: .*remove .*main\.lock/);
  const json = JSON.parse((await promote(p, ['to', 'dev', '--bundle', d2, '--output', 'json'])).stdout);
  assert.equal(json.error.code, 'LEDGER_LOCKED');
  assert.equal(json.error.details.lockFile, lock);
  // Nothing landed; once the lock is gone the same command goes through.
  assert.equal(git(p.ledgerRemote, p.env, 'rev-list', '--count', 'main').trim(), '1');
  await rm(lock);
  assert.equal((await promote(p, ['to', 'dev', '--bundle', d2])).code, 0);
});

test('a stale lock in a local ledger repository is named too', async () => {
  const p = await createProject(join(base, 'lock-local'), registry.host, { name: 'locklocal' });
  const ledger = join(p.dir, '..', 'local-ledger');
  git(p.dir, p.env, 'init', '--quiet', '--initial-branch=main', ledger);
  git(ledger, p.env, 'commit', '--quiet', '--allow-empty', '-m', 'initial');
  await writeFile(join(p.dir, 'pipelines', 'webapp.yaml'), PIPELINE(p.repository, ledger, PRODUCTION_GATES));
  const lock = join(ledger, '.git', 'refs', 'heads', 'main.lock');
  await writeFile(lock, '');
  const r = await promote(p, ['to', 'dev', '--bundle', await p.push(1)]);
  assert.equal(r.code, 1, r.stderr);
  assert.doesNotMatch(r.stderr, /kept moving/);
  assert.ok(r.stderr.includes(lock), r.stderr);
});

test('a ledger remote that accepts connections and never answers fails after PROMOTE_GIT_TIMEOUT instead of hanging', async (t) => {
  const sockets = new Set<Socket>();
  const silent = createServer((s) => { sockets.add(s); s.on('error', () => undefined); });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  t.after(() => { for (const s of sockets) s.destroy(); silent.close(); });
  const port = (silent.address() as { port: number }).port;
  const p = await createProject(join(base, 'silent'), registry.host, { name: 'silent' });
  await writeFile(join(p.dir, 'pipelines', 'webapp.yaml'), PIPELINE(p.repository, `http://127.0.0.1:${port}/ledger.git`, PRODUCTION_GATES));
  const r = await promote(p, ['history', 'dev'], { PROMOTE_GIT_TIMEOUT: '2s' });
  assert.equal(r.killed, false, `still waiting after ${r.ms} ms: ${r.stderr}`);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stderr, /cannot fetch the ledger from http:\/\/127\.0\.0\.1:\d+\/ledger\.git: git did not finish within 2s/);
  assert.match(r.stderr, /hint: .*PROMOTE_GIT_TIMEOUT/);
  assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
  const bad = await promote(p, ['history', 'dev'], { PROMOTE_GIT_TIMEOUT: 'soon' });
  assert.equal(bad.code, 2, bad.stderr);
});
