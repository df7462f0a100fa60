import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { nextDelay, runAgentLoop } from '../../src/agent/loop.ts';
import { Reconciler, type DesiredSource } from '../../src/agent/reconcile.ts';
import type { DesiredState } from '../../src/agent/target.ts';
import { DirTarget } from '../../src/agent/targets/dir-target.ts';
import { OWNER } from './desired.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function source(): DesiredSource & { rounds: number } {
  const desired: DesiredState = { owner: OWNER, recordDigest: 'sha256:r1', bundleDigest: 'sha256:b1', files: [{ path: 'a.yaml', content: Buffer.from('a') }] };
  return {
    rounds: 0,
    async resolve() {
      this.rounds++;
      return 'sha256:r1';
    },
    async load() {
      return desired;
    },
  };
}

describe('agent loop', () => {
  it('serves /healthz, /readyz and Prometheus /metrics while it runs, and logs one JSON line per round (in-process fake source)', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'promote-loop-'));
    dirs.push(root);
    const src = source();
    const reconciler = new Reconciler({ owner: OWNER, source: src, target: new DirTarget(root) });
    const controller = new AbortController();
    const lines: Record<string, unknown>[] = [];
    let port = 0;
    let loop: Promise<unknown> | undefined;
    const listening = new Promise<void>((resolve) => {
      loop = runAgentLoop({
        reconciler,
        owner: OWNER,
        intervalMs: 20,
        listen: { host: '127.0.0.1', port: 0 },
        signal: controller.signal,
        log: (e) => lines.push(e),
        onListening: (a) => {
          port = a.port;
          resolve();
        },
      });
    });
    t.after(async () => {
      controller.abort();
      await loop;
    });
    await listening;
    while (lines.length < 3) await new Promise((r) => setTimeout(r, 10));
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, text: await res.text(), type: res.headers.get('content-type') };
    };
    assert.equal((await get('/healthz')).status, 200);
    const ready = await get('/readyz');
    assert.equal(ready.status, 200);
    assert.match(ready.text, /Converged/);
    const metrics = await get('/metrics');
    assert.match(metrics.type ?? '', /text\/plain; version=0\.0\.4/);
    assert.match(metrics.text, /^promote_agent_reconcile_total\{pipeline="webapp",stage="dev",cluster="dev-1",result="success"\} [3-9]\d*$/m);
    assert.match(metrics.text, /^promote_agent_phase\{pipeline="webapp",stage="dev",cluster="dev-1",phase="Converged"\} 1$/m);
    assert.match(metrics.text, /^promote_agent_reconcile_duration_seconds_count\{[^}]*\} \d+$/m);
    assert.match(metrics.text, /^promote_agent_last_success_timestamp_seconds\{[^}]*\} [1-9]\d*(\.\d+)?$/m);
    controller.abort();
    await loop;
    assert.deepEqual(Object.keys(lines[0]!).slice(0, 4), ['time', 'level', 'msg', 'pipeline']);
    assert.equal(lines[0]!.phase, 'Converged');
    assert.equal(lines[1]!.writes, 0);
  });

  it('runs exactly one round with --once and returns its status (in-process fake source)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'promote-loop-'));
    dirs.push(root);
    const src = source();
    const status = await runAgentLoop({ reconciler: new Reconciler({ owner: OWNER, source: src, target: new DirTarget(root) }), owner: OWNER, intervalMs: 10, once: true, log: () => {} });
    assert.equal(status?.phase, 'Converged');
    assert.equal(src.rounds, 1);
  });

  it('backs off exponentially after failed rounds, up to the ceiling', () => {
    assert.equal(nextDelay(30_000, 0), 30_000);
    assert.equal(nextDelay(30_000, 1), 60_000);
    assert.equal(nextDelay(30_000, 2), 120_000);
    assert.equal(nextDelay(30_000, 10), 300_000);
    assert.equal(nextDelay(1_000, 3, 5_000), 5_000);
  });
});
