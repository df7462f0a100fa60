import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encryptCosignKey } from '../../src/signing/cosign-key-file.ts';
import { generateSigningKeyPair } from '../../src/signing/keys.ts';
import { promote as runPromote } from '../cli/run-promote.ts';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject } from './project.ts';

// A registry that answers 500 to every third request (a proxy in front of the real registry):
// `push --sign` and `to` must get through it — idempotent requests retried, uploads resumed
// where the session says it stands — and a fault must never turn into "not signed".

let reg: RegistryServer;
let proxy: FaultProxy;
let base: string;
let every = 0;
before(async () => {
  reg = await startRegistry();
  let n = 0;
  proxy = await startFaultProxy(reg.url, (q) => {
    if (every && ++n % every === 0) return { status: 500 };
    if (sigFails && q.path.includes('.sig')) return { status: 500 };
    if (failTag && q.method === 'GET' && q.path.endsWith(`/manifests/${failTag}`)) return { status: 500 };
    return undefined;
  });
  base = await mkdtemp(join(tmpdir(), 'promote-flaky-'));
});
let sigFails = false;
let failTag = '';
after(async () => {
  await proxy?.stop();
  await reg?.stop();
  await rm(base, { recursive: true, force: true });
});

test('push --sign and to get through a registry failing every third request; a persistent fault on the signature is exit 1 naming it, never "no signature"', async () => {
  const p = await createProject(join(base, 'flaky'), proxy.host, { name: 'flaky' });
  const pair = generateSigningKeyPair();
  await writeFile(join(p.dir, 'keys', 'ci.pub'), pair.publicKey.export({ type: 'spki', format: 'pem' }) as string);
  await writeFile(join(p.dir, 'keys', 'ci.key'), await encryptCosignKey(pair.privateKey.export({ type: 'pkcs8', format: 'der' }), '', { N: 32768, r: 8, p: 1 }));
  const env = { ...p.env, NO_COLOR: '1', PROMOTE_KEY: p.promoterKeyFile };
  const run = (args: string[]) => runPromote([...args, '--insecure'], { cwd: p.dir, env, killAfterMs: 120_000 });

  every = 3;
  const push = await run(['push', 'bundle', `${p.repository}:v1`, '--sign', '--key', 'keys/ci.key']);
  assert.equal(push.code, 0, push.stderr);
  const digest = push.stdout.trim().split('@')[1]!;
  const to = await run(['to', 'dev', '--bundle', digest]);
  assert.equal(to.code, 0, to.stderr);
  assert.ok(proxy.seen.filter((s) => s.status === 500).length >= 10, 'the registry did fail');

  every = 0;
  sigFails = true;
  const plan = await run(['plan', 'dev', '--bundle', digest, '--no-diff']);
  sigFails = false;
  assert.equal(plan.code, 1, plan.stdout + plan.stderr);
  assert.match(plan.stderr, /error: fetching manifest sha256-[0-9a-f]{64}\.sig \(127\.0\.0\.1:\d+\/acme\/flaky\): the registry failed with 500 .*after 5 attempts/);
  assert.doesNotMatch(plan.stdout + plan.stderr, /no signature|not signed/);
});

test('promote run --once facing a registry that fails on the newest tag reports the error, and does not promote an older bundle instead', async () => {
  const p = await createProject(join(base, 'newest'), proxy.host, { name: 'newest' });
  const d1 = await p.push(1);
  await p.push(2);
  failTag = 'v2';
  const r = await runPromote(['run', '--once', '--output', 'json', '--insecure'], { cwd: p.dir, env: { ...p.env, NO_COLOR: '1', PROMOTE_KEY: p.promoterKeyFile }, killAfterMs: 120_000 });
  failTag = '';
  const dev = JSON.parse(r.stdout).find((o: { stage: string }) => o.stage === 'dev');
  assert.equal(dev.result, 'error', r.stdout);
  assert.match(dev.message, /fetching manifest v2 .*the registry failed with 500/);
  assert.notEqual(dev.bundle, d1);
});
