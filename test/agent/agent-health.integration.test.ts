// /healthz of a looping agent (`promote agent`, the real CLI) whose round is stuck: the registry
// in front of it (a fault proxy before a real registry) trickles every manifest a byte at a
// time, and the registry deadline is set far away, so the round does not end by itself. The
// liveness endpoint must stop saying "ok" — the kubelet then restarts the agent.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { generateSigningKeyPair } from '../../src/signing/keys.ts';
import { BIN, cleanEnv } from '../bundle/helpers.ts';
import { startFaultProxy, type FaultProxy } from '../harness/fault-proxy.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';

let reg: RegistryServer;
let proxy: FaultProxy;
let base: string;
before(async () => {
  reg = await startRegistry();
  proxy = await startFaultProxy(reg.url, (q) => (q.method === 'GET' && q.path.includes('/manifests/') ? { trickleMs: 500 } : undefined));
  base = await mkdtemp(join(tmpdir(), 'promote-agent-health-'));
});
after(async () => {
  await proxy?.stop();
  await reg?.stop();
  await rm(base, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

it('a looping agent stuck in its first round stops answering /healthz as healthy once the round outlives --stall-timeout', async (t) => {
  const key = join(base, 'trusted.pub');
  await writeFile(key, generateSigningKeyPair().publicKey.export({ type: 'spki', format: 'pem' }) as string);
  const port = await freePort();
  const child = spawn(process.execPath, [BIN, 'agent', '--pipeline', 'webapp', '--repository', `${proxy.host}/acme/stuck`, '--promotion-key', key, '--bundle-key', key,
    '--stage', 'dev', '--cluster', 'dev-1', '--target', `dir:${join(base, 'out')}`, '--interval', '1s', '--stall-timeout', '3s',
    '--metrics-address', `127.0.0.1:${port}`, '--insecure', '--cache-dir', join(base, 'cache')], { env: cleanEnv({ NO_COLOR: '1', PROMOTE_REGISTRY_TIMEOUT: '1h' }), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  t.after(() => { child.kill('SIGKILL'); });
  const health = async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/healthz`);
      return { status: res.status, text: await res.text() };
    } catch {
      return undefined; // not listening yet
    }
  };
  const started = Date.now();
  let first: { status: number; text: string } | undefined;
  while (!(first = await health()) && Date.now() - started < 15_000) await new Promise((r) => setTimeout(r, 100));
  assert.equal(first?.status, 200, `the agent never served /healthz: ${stderr}`);
  let last = first;
  while (last.status === 200 && Date.now() - started < 20_000) {
    await new Promise((r) => setTimeout(r, 250));
    last = (await health()) ?? last;
  }
  assert.equal(last.status, 503, `still healthy ${Date.now() - started} ms into a round that cannot finish: ${stderr}`);
  assert.match(last.text, /reconcile loop stalled: the current round has been running for \d+ s \(limit 3 s\)/);
  assert.ok(proxy.seen.some((s) => s.method === 'GET' && s.path.includes('/manifests/promotion-dev')), 'the round is waiting on the registry');
});
