import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { history } from '../../src/promotion/history.ts';
import { setHold } from '../../src/promotion/hold.ts';
import { openProject } from '../../src/promotion/project.ts';
import { hubSignature } from '../../src/promotion/webhook-auth.ts';
import { BIN } from '../bundle/helpers.ts';
import { promote as runPromote } from '../cli/run-promote.ts';
import { freePort, startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from './project.ts';

// `promote run --listen` end to end: the real registry (docker-registry) is configured to notify
// the real CLI, which runs with a 10-minute --interval; pushing a signed bundle gets dev promoted
// within seconds (the ledger shows it), a git push webhook for the ledger branch wakes a pass
// (after `release`), refused requests wake none, and a burst of events is at most two passes.

let registry: RegistryServer;
let base: string;
let port: number;
const secret = randomBytes(24).toString('hex');
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'promote-listen-'));
  port = await freePort();
  registry = await startRegistry({ notifications: [{ name: 'promote', url: `http://127.0.0.1:${port}/hooks`, bearer: secret }] });
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

interface Running {
  child: ChildProcess;
  stderr(): string;
  /** Resolves once stderr matches `re` (after `from` characters), or fails after `ms`. */
  until(re: RegExp, ms: number, from?: number): Promise<void>;
  stop(): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

function startRun(p: TestProject, args: string[], env: NodeJS.ProcessEnv): Running {
  const child = spawn(process.execPath, [BIN, 'run', ...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (d) => { stdout += d; });
  child.stderr!.on('data', (d) => { stderr += d; for (const w of waiters) w(); });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => { for (const w of waiters) w(); resolve(code); }));
  const killer = setTimeout(() => child.kill('SIGKILL'), 170_000);
  return {
    child,
    stderr: () => stderr,
    until: (re, ms, from = 0) => new Promise((resolve, reject) => {
      const check = () => {
        if (re.test(stderr.slice(from))) { done(); resolve(); } else if (child.exitCode !== null) { done(); reject(new Error(`promote run exited (${child.exitCode}) before ${re}:\n${stderr}`)); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`no ${re} within ${ms} ms:\n${stderr.slice(from)}`)); }, ms);
      const done = () => { clearTimeout(timer); waiters.delete(check); };
      waiters.add(check);
      check();
    }),
    async stop() {
      child.kill('SIGINT');
      const code = await exited;
      clearTimeout(killer);
      return { code, stdout, stderr };
    },
  };
}

const passes = (text: string): number => (text.match(/ pass:\n/g) ?? []).length;

/** The count once it has not moved for 2 s (bounded: 30 s). */
async function quiet(count: () => number): Promise<number> {
  let last = count();
  let still = 0;
  for (let i = 0; i < 60 && still < 4; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const now = count();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return last;
}

function post(body: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`http://127.0.0.1:${port}/hooks`, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
}

test('without a secret --listen refuses to start: exit 2 with a hint, nothing bound', async () => {
  const p = await createProject(join(base, 'nosecret'), registry.host, { name: 'nosecret' });
  const r = await runPromote(['run', '--listen', `127.0.0.1:${port}`, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_LISTEN_SECRET: '' } });
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--listen needs a shared secret/);
  assert.match(r.stderr, /--listen-secret-file/);
  const empty = join(base, 'empty-secret');
  await writeFile(empty, '\n');
  const r2 = await runPromote(['run', '--listen', `127.0.0.1:${port}`, '--listen-secret-file', empty, '--insecure'], { cwd: p.dir, env: p.env });
  assert.equal(r2.code, 2, r2.stderr);
  assert.match(r2.stderr, /is empty/);
  assert.equal((await runPromote(['run', '--once', '--listen', `127.0.0.1:${port}`, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_LISTEN_SECRET: secret } })).code, 2);
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'something listens on the port');
});

test('with the registry notifying `promote run --listen` (interval 10m), a pushed bundle reaches dev within seconds; a signed git push for the ledger branch wakes a pass; refusals and bursts do not multiply passes', async () => {
  const p = await createProject(join(base, 'wired'), registry.host, { name: 'webapp' });
  const secretFile = join(base, 'listen-secret');
  await writeFile(secretFile, `${secret}\n`, { mode: 0o600 });
  const run = startRun(p, ['--interval', '10m', '--listen', `127.0.0.1:${port}`, '--listen-secret-file', secretFile], {});
  try {
    await run.until(/listen: receiving webhooks on http:\/\/127\.0\.0\.1:\d+/, 30_000);
    await run.until(/pass:\ndev +nothing/, 60_000);

    // A registry push: distribution POSTs the manifest events to the listener.
    const t0 = Date.now();
    const d1 = await p.push(1);
    await run.until(new RegExp(`pass:\\ndev +promoted +${d1.slice(0, 19)}`), 20_000);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 20_000, `dev promoted ${elapsed} ms after the push`);
    assert.match(run.stderr(), /listen: distribution push acme\/webapp:v1 sha256:[0-9a-f]{12}: wakes a pass/);
    const open = async (name: string) => openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(base, `cache-${name}`) });
    const [latest] = await history(await open('a'), 'dev', 1);
    assert.equal(latest?.bundle, d1, 'the ledger records dev running the pushed bundle');

    // Hold dev, push d2: the registry event wakes a pass that finds dev held.
    await setHold(await open('b'), 'dev', true, 'freeze');
    const d2 = await p.push(2);
    await run.until(/pass:\ndev +held/, 20_000);
    // The registry keeps announcing d2's pushes (signature, tags) for a while, each waking (or
    // queueing) a pass: let them all find dev held before releasing it, or a late one promotes d2.
    await quiet(() => passes(run.stderr()));
    assert.doesNotMatch(run.stderr(), new RegExp(`promoted +${d2.slice(0, 19)}`));
    // Release it in the ledger: no registry event (a hold lives in the ledger only), and the
    // interval is 10 minutes away.
    await setHold(await open('c'), 'dev', false);
    const beforeRefusals = passes(run.stderr());

    // Refused requests (wrong bearer, a GitHub payload signed with another secret) start nothing.
    const payload = JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: 'acme/ledger', clone_url: p.ledgerRemote } });
    assert.equal((await post('{"events":[]}', { authorization: 'Bearer wrong' })).status, 401);
    assert.equal((await post(payload, { 'x-github-event': 'push', 'x-hub-signature-256': hubSignature(payload, 'not-the-secret') })).status, 401);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(passes(run.stderr()), beforeRefusals, 'a refused request started a pass');
    assert.doesNotMatch(run.stderr(), new RegExp(`promoted +${d2.slice(0, 19)}`));

    // The same push, signed with the secret (what GitHub sends), wakes the pass that promotes d2.
    const at = run.stderr().length;
    const ok = await post(payload, { 'x-github-event': 'push', 'x-github-delivery': 'd-1', 'x-hub-signature-256': hubSignature(payload, secret) });
    assert.equal(ok.status, 202);
    assert.deepEqual(await ok.json(), { wake: true, events: 1 });
    await run.until(new RegExp(`pass:\\ndev +promoted +${d2.slice(0, 19)}`), 20_000, at);
    assert.match(run.stderr().slice(at), /listen: github push acme\/ledger refs\/heads\/main: wakes a pass/);
    assert.equal((await history(await open('d'), 'dev', 1))[0]?.bundle, d2);

    // A burst of ten events: one pass in flight plus one queued, never more.
    await new Promise((r) => setTimeout(r, 500));
    const beforeBurst = passes(run.stderr());
    const envelope = JSON.stringify({ events: [{ action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', repository: 'acme/webapp', tag: 'v2', digest: d2 } }] });
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(envelope, { authorization: `Bearer ${secret}` })));
    assert.deepEqual(answers.map((a) => a.status), Array(10).fill(202));
    await new Promise((r) => setTimeout(r, 4000));
    const burst = passes(run.stderr()) - beforeBurst;
    assert.ok(burst >= 1 && burst <= 2, `${burst} passes for a burst of 10 events`);
    assert.ok(!run.stderr().includes(secret), 'the secret is in the log');
  } finally {
    const { code, stdout, stderr } = await run.stop();
    assert.equal(code, 0, stderr);
    assert.equal(stdout, 'stopped\n');
  }
  // A graceful stop closed the listener: the port refuses connections.
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`));
});
