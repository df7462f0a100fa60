import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pushBundle } from '../../src/artifact/push.ts';
import { cleanEnv } from '../bundle/helpers.ts';
import { promote } from '../cli/run-promote.ts';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { FIXTURE } from '../promotion/project.ts';

// A registry (here: a proxy in front of the real one) that answers, then trickles the body a
// byte every 200 ms — never idle, so an idle timer never fires. Each request has an overall
// deadline instead, met through the real CLI as a user would.

let reg: RegistryServer;
let proxy: FaultProxy;
let base: string;
let trickle = false;
let reference = '';
before(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url, (q) => (trickle && q.method === 'GET' && q.path.includes('/manifests/') ? { trickleMs: 200 } : undefined));
  base = await mkdtemp(join(tmpdir(), 'promote-deadline-'));
  await cp(FIXTURE, join(base, 'bundle'), { recursive: true });
  const pushed = await pushBundle(join(base, 'bundle'), `${proxy.host}/acme/slow:v1`, { insecure: true, env: cleanEnv({ SOURCE_DATE_EPOCH: '1700000000' }) });
  reference = pushed.reference;
});
after(async () => {
  await proxy?.stop();
  await reg?.stop();
  await rm(base, { recursive: true, force: true });
});

test('promote inspect against a registry trickling its answer fails at --timeout / PROMOTE_REGISTRY_TIMEOUT, naming the registry', async () => {
  trickle = true;
  for (const [args, env] of [[['--timeout', '2s'], {}], [[], { PROMOTE_REGISTRY_TIMEOUT: '2s' }]] as const) {
    const r = await promote(['inspect', reference, '--insecure', '--no-files', ...args], { env: cleanEnv({ NO_COLOR: '1', ...env }), killAfterMs: 45_000 });
    assert.equal(r.killed, false, `still waiting after ${r.ms} ms`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`error: .*the registry at http://${proxy.host.replace(/\./g, '\\.')} did not finish answering within 2s`));
    assert.match(r.stderr, /hint: .*--timeout or PROMOTE_REGISTRY_TIMEOUT/);
    assert.ok(r.ms < 20_000, `took ${r.ms} ms`);
  }
  const bad = await promote(['inspect', reference, '--insecure', '--timeout', 'soon'], { env: cleanEnv({ NO_COLOR: '1' }) });
  assert.equal(bad.code, 2, bad.stderr);
  trickle = false;
  const ok = await promote(['inspect', reference, '--insecure', '--no-files', '--timeout', '30s'], { env: cleanEnv({ NO_COLOR: '1' }) });
  assert.equal(ok.code, 0, ok.stderr);
});
