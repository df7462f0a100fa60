// Agent cost (issue 6), each figure side by side with its floor measured in the same run:
//  (1) idle round — registry requests and CPU per agent per round when nothing changed
//      (target: 1 request, < 5 ms CPU), vs a bare fetch HEAD of the tag;
//  (2) 200 agents in one process polling one real registry: requests/s and CPU per round;
//  (3) promotion-to-converged latency p50/p95 on the dir target with a 1 s interval.
// The Kubernetes agent beside kubectl on kube-prometheus is bench/k8s-agent.bench.ts.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Reconciler } from '../src/agent/reconcile.ts';
import { RegistryDesiredSource } from '../src/agent/registry-source.ts';
import { DirTarget } from '../src/agent/targets/dir-target.ts';
import { runAgentLoop } from '../src/agent/loop.ts';
import { openRegistry } from '../src/oci/open.ts';
import { MANIFEST_ACCEPT } from '../src/oci/media-types.ts';
import { openProject } from '../src/promotion/project.ts';
import { promoteTo } from '../src/promotion/to.ts';
import { loadPipelineTrust } from '../src/signing/policy.ts';
import { startRegistry } from '../test/harness/registry.ts';
import { createProject } from '../test/promotion/project.ts';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 200);
const IDLE_ROUNDS = Number(process.env.BENCH_ROUNDS ?? 50);
const LATENCY_SAMPLES = Number(process.env.BENCH_LATENCY_SAMPLES ?? 8);

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const cpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const row = (cells: (string | number)[]): string => cells.map((c, i) => String(c).padEnd(i === 0 ? 54 : 24)).join('');

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'promote-agent-bench-'));
  const reg = await startRegistry();
  try {
    const p = await createProject(join(base, 'p'), reg.host, { name: 'bench' });
    const d1 = await p.push(1);
    const engine = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(base, 'engine-cache') });
    await promoteTo(engine, { stage: 'dev', bundle: d1 });
    const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
    const owner = { pipeline: 'webapp', stage: 'dev', cluster: 'dev-1' };
    const makeAgent = async (i: number) => {
      const registry = await openRegistry(p.repository, { insecure: true, env: p.env });
      const source = new RegistryDesiredSource({ registry, owner, promotionTrust: trust.promotions, bundleTrust: trust.bundles, cacheDir: join(base, 'cache') });
      return new Reconciler({ owner, source, target: new DirTarget(join(base, `target-${i}`)), healthTimeoutMs: 0 });
    };

    // (1) one agent, idle rounds.
    const one = await makeAgent(0);
    const first = await one.round();
    if (first.status.phase !== 'Converged') throw new Error(`first round: ${first.status.phase} ${first.status.message}`);
    await one.round();
    await reg.clearRequests();
    let c0 = cpuMs();
    let t0 = performance.now();
    for (let i = 0; i < IDLE_ROUNDS; i++) await one.round();
    const idleCpu = (cpuMs() - c0) / IDLE_ROUNDS;
    const idleWall = (performance.now() - t0) / IDLE_ROUNDS;
    const idleRequests = (await reg.requests()).length / IDLE_ROUNDS;
    // Floor: the same HEAD done bare with fetch.
    const head = `${reg.url}/v2/acme/bench/manifests/promotion-dev`;
    await reg.clearRequests();
    c0 = cpuMs();
    t0 = performance.now();
    for (let i = 0; i < IDLE_ROUNDS; i++) await (await fetch(head, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT.join(', ') } })).arrayBuffer();
    const floorCpu = (cpuMs() - c0) / IDLE_ROUNDS;
    const floorWall = (performance.now() - t0) / IDLE_ROUNDS;

    // (2) many agents, one round each, concurrently.
    const agents = [];
    for (let i = 1; i <= AGENTS; i++) agents.push(await makeAgent(i));
    await Promise.all(agents.map((a) => a.round())); // converge all
    await reg.clearRequests();
    c0 = cpuMs();
    t0 = performance.now();
    await Promise.all(agents.map((a) => a.round()));
    const manyWall = performance.now() - t0;
    const manyCpu = cpuMs() - c0;
    const manyRequests = (await reg.requests()).length;
    c0 = cpuMs();
    t0 = performance.now();
    await Promise.all(agents.map(async () => (await fetch(head, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT.join(', ') } })).arrayBuffer()));
    const manyFloorWall = performance.now() - t0;
    const manyFloorCpu = cpuMs() - c0;

    // (3) promotion → converged latency, agent loop with a 1 s interval.
    const latencies: number[] = [];
    {
      const agent = await makeAgent(AGENTS + 1);
      const controller = new AbortController();
      let last: { record?: string; phase: string } = { phase: '' };
      const waiters: { record: string; resolve: () => void }[] = [];
      const loop = runAgentLoop({
        reconciler: agent,
        owner,
        intervalMs: 1000,
        signal: controller.signal,
        log: (e) => {
          last = { record: e.record as string, phase: e.phase as string };
          for (const w of waiters.splice(0)) {
            if (last.record === w.record && last.phase === 'Converged') w.resolve();
            else waiters.push(w);
          }
        },
      });
      for (let i = 0; i < LATENCY_SAMPLES; i++) {
        const d = await p.push(100 + i);
        const promoted = await promoteTo(engine, { stage: 'dev', bundle: d });
        const t = performance.now();
        const record = promoted.published!.digest;
        if (!(last.record === record && last.phase === 'Converged')) await new Promise<void>((resolve) => waiters.push({ record, resolve }));
        latencies.push(performance.now() - t);
      }
      controller.abort();
      await loop;
    }

    console.log(row(['measure', 'promote', 'floor', 'ratio / target']));
    console.log(row(['(1) idle round: registry requests', idleRequests.toFixed(2), '1 (bare HEAD)', `target 1`]));
    console.log(row(['(1) idle round: CPU ms', idleCpu.toFixed(2), floorCpu.toFixed(2), `${(idleCpu / floorCpu).toFixed(1)}x; target < 5 ms`]));
    console.log(row(['(1) idle round: wall ms', idleWall.toFixed(2), floorWall.toFixed(2), `${(idleWall / floorWall).toFixed(1)}x`]));
    console.log(row([`(2) ${AGENTS} agents, one round: requests`, manyRequests, AGENTS, `${(manyRequests / AGENTS).toFixed(2)} per agent`]));
    console.log(row([`(2) ${AGENTS} agents: requests/s`, Math.round(manyRequests / (manyWall / 1000)), Math.round(AGENTS / (manyFloorWall / 1000)), `${(manyWall / manyFloorWall).toFixed(1)}x wall`]));
    console.log(row([`(2) ${AGENTS} agents: CPU ms per agent-round`, (manyCpu / AGENTS).toFixed(2), (manyFloorCpu / AGENTS).toFixed(2), `${(manyCpu / manyFloorCpu).toFixed(1)}x`]));
    console.log(row([`(3) promotion→Converged, 1 s interval: p50 ms`, Math.round(pct(latencies, 50)), '~500 (half an interval)', `n=${latencies.length}`]));
    console.log(row([`(3) promotion→Converged, 1 s interval: p95 ms`, Math.round(pct(latencies, 95)), '≤1000 + round', '']));
  } finally {
    await reg.stop();
    await rm(base, { recursive: true, force: true });
  }
}

await main();
