import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readAttachedBundle } from '../../src/signing/attestation.ts';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startGitHttpServer } from '../harness/git-http.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from './git-env.ts';
import { createProject, PIPELINE, PRODUCTION_GATES, type TestProject } from './project.ts';

// A ledger remote reached over authenticated HTTP with the credentials in its URL
// (http://user:TOKEN@host/ledger.git, what CI systems hand out): a real git smart-HTTP server
// (git http-backend behind basic auth) and a real registry. The token must work, and must appear
// in no output, no file of the ledger cache, and no record published to the registry.

const TOKEN = 'tok3n-9f1c27d04b8e5a63';
const USER = 'ci-bot';

let registry: RegistryServer;
let base: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-ledger-creds-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

/** Every file under `dir` whose bytes contain `needle` (or its base64 in a Basic header). */
async function filesContaining(dir: string, needles: string[]): Promise<string[]> {
  const hits: string[] = [];
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    const bytes = await readFile(path);
    if (needles.some((n) => bytes.includes(n))) hits.push(path);
  }
  return hits;
}

const secrets = [TOKEN, Buffer.from(`${USER}:${TOKEN}`).toString('base64')];

function assertNoSecret(r: Run, where: string): void {
  for (const s of secrets) {
    assert.ok(!r.stdout.includes(s), `${where}: stdout shows the credential:\n${r.stdout}`);
    assert.ok(!r.stderr.includes(s), `${where}: stderr shows the credential:\n${r.stderr}`);
  }
}

async function projectWithLedger(name: string, ledgerUrl: (p: TestProject) => string): Promise<TestProject> {
  const p = await createProject(join(base, name), registry.host, { name });
  await writeFile(join(p.dir, 'pipelines', 'webapp.yaml'), PIPELINE(p.repository, ledgerUrl(p), PRODUCTION_GATES));
  return p;
}

function promote(p: TestProject, args: string[]): Promise<Run> {
  return runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1', PROMOTE_GIT_TIMEOUT: '30s' }, killAfterMs: 60_000 });
}

test('a ledger URL with user:token works over authenticated HTTP, and the token is in no output, no cache file and no published record', async (t) => {
  // createProject makes <base>/<name>/ledger.git: serve <base>/<name>.
  const server = await startGitHttpServer(join(base, 'creds-ok'), USER, TOKEN);
  t.after(() => server.stop());
  const p = await projectWithLedger('creds-ok', () => server.url('ledger.git', { username: USER, password: TOKEN }));
  const d1 = await p.push(1);

  const to = await promote(p, ['to', 'dev', '--bundle', d1]);
  assert.equal(to.code, 0, to.stderr);
  assertNoSecret(to, 'promote to');
  const json = await promote(p, ['history', 'dev', '--output', 'json']);
  assert.equal(json.code, 0, json.stderr);
  assertNoSecret(json, 'promote history --output json');

  // The commit reached the real remote, through requests that carried the credentials.
  assert.match(git(p.ledgerRemote, p.env, 'log', '--format=%s', 'main'), /dev/);
  assert.ok(server.seen.some((s) => s.authorized && s.path.includes('git-receive-pack')), 'the push went through with the credentials');

  const cache = p.env.PROMOTE_CACHE_DIR!;
  assert.deepEqual(await filesContaining(cache, secrets), [], 'no file of the ledger cache holds the credential');
  const clone = (await readdir(join(cache, 'ledgers')))[0]!;
  assert.equal(git(join(cache, 'ledgers', clone), p.env, 'config', 'remote.origin.url').trim(), server.url('ledger.git'));

  // The signed record names the ledger without its credentials.
  const attached = await readAttachedBundle(p.registry, 'promotion-dev');
  const payload = Buffer.from((attached.bundle as { dsseEnvelope: { payload: string } }).dsseEnvelope.payload, 'base64').toString('utf8');
  assert.ok(!secrets.some((s) => payload.includes(s)), `the published record holds the credential: ${payload}`);
  assert.equal(JSON.parse(payload).predicate.ledger.repository, server.url('ledger.git'));
});

test('a ledger URL with user:token that fails (refused, wrong token) prints no secret in text, JSON or --debug output, nor leaves it in the cache', async (t) => {
  const server = await startGitHttpServer(join(base, 'creds-wrong'), USER, 'another-token');
  t.after(() => server.stop());
  // Nothing listens on port 9 of 127.0.0.1 (discard is not served here): git cannot connect.
  const refused = await projectWithLedger('creds-refused', () => `http://${USER}:${TOKEN}@127.0.0.1:9/ledger.git`);
  const d1 = await refused.push(1);
  for (const args of [['to', 'dev', '--bundle', d1], ['to', 'dev', '--bundle', d1, '--output', 'json'], ['to', 'dev', '--bundle', d1, '--debug'], ['history', 'dev']]) {
    const r = await promote(refused, args);
    assert.equal(r.code, 1, `${args.join(' ')}: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout + r.stderr, /ledger/);
    assertNoSecret(r, args.join(' '));
  }
  assert.deepEqual(await filesContaining(refused.env.PROMOTE_CACHE_DIR!, secrets), []);

  // A real server that refuses this token: git's own 401 handling, same property.
  const wrong = await projectWithLedger('creds-wrong', () => server.url('ledger.git', { username: USER, password: TOKEN }));
  const d2 = await wrong.push(1);
  const r = await promote(wrong, ['to', 'dev', '--bundle', d2, '--debug']);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /cannot fetch the ledger from http:\/\/127\.0\.0\.1:\d+\/ledger\.git/);
  assertNoSecret(r, 'wrong token');
  assert.ok(server.seen.length > 0 && server.seen.every((s) => !s.authorized));
  assert.deepEqual(await filesContaining(wrong.env.PROMOTE_CACHE_DIR!, secrets), []);
});
