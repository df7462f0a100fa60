// A fleet on one registry (issue 19): N clusters in one environment, N in-process dir agents
// (Reconciler + RegistryDesiredSource + DirTarget + RegistryStatusReporter, each with its own
// target, cache and state, as `promote agent` wires them) polling one real registry
// (distribution 2.8) at a jittered interval. Measured, each beside its floor from the same run:
//  (1) `promote to dev` → all N agents Converged: wall time (goal ≤ 60 s at N = 1000), registry
//      requests per agent, the registry process's CPU (/proc/<pid>/stat), this process's CPU;
//      floors: N bare HEADs and N bare GETs of the record tag, all at once;
//  (2) an idle fleet: registry requests per agent per interval (goal 1) and registry CPU;
//  (3) one agent's rounds by request (a changed round, an idle round).
// Sizes: BENCH_FLEET_CLUSTERS (default 1000), BENCH_FLEET_INTERVAL (default 30s: the interval
// `promote agent` defaults to), BENCH_FLEET_IDLE_INTERVALS (default 2). BENCH_FLEET_OUTPUT=json
// prints the figures as one JSON object (test/bench/fleet-bench.test.ts runs it small).
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { agentParts } from '../src/agent/agent-parts.ts';
import { runAgentLoop } from '../src/agent/loop.ts';
import { Reconciler } from '../src/agent/reconcile.ts';
import { DirTarget } from '../src/agent/targets/dir-target.ts';
import { openRegistry } from '../src/oci/open.ts';
import { MANIFEST_ACCEPT } from '../src/oci/media-types.ts';
import { openProject } from '../src/promotion/project.ts';
import { promoteTo } from '../src/promotion/to.ts';
import { loadPipelineTrust } from '../src/signing/policy.ts';
import { startRegistry, type AccessLogEntry, type RegistryServer } from '../test/harness/registry.ts';
import { createProject } from '../test/promotion/project.ts';

// N agents would be N processes, each with libuv's own 4 threads for file I/O (the dir target's
// fsyncs among it); in one process they would queue on 4 threads. Run again with a pool for them.
if (!process.env.UV_THREADPOOL_SIZE) {
  const run = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], { stdio: 'inherit', env: { ...process.env, UV_THREADPOOL_SIZE: '64' } });
  process.exit(run.status ?? 1);
}

const N = Number(process.env.BENCH_FLEET_CLUSTERS ?? 1000);
const INTERVAL_MS = duration(process.env.BENCH_FLEET_INTERVAL ?? '30s');
const IDLE_INTERVALS = Number(process.env.BENCH_FLEET_IDLE_INTERVALS ?? 2);
const JSON_OUTPUT = process.env.BENCH_FLEET_OUTPUT === 'json';
/** First rounds (the fleet converging on its first record) run this many at a time. */
const WARM_UP_CONCURRENCY = 16;

function duration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)$/.exec(text.trim());
  if (!m) throw new Error(`BENCH_FLEET_INTERVAL=${text}: write e.g. 30s, 500ms or 1m`);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000 }[m[2] as 'ms'];
}

const log = (text: string): void => { if (!JSON_OUTPUT) process.stderr.write(`${text}\n`); };
const ticks = Number(process.env.CLK_TCK ?? 100);
/** utime + stime of a process, in ms (/proc/<pid>/stat fields 14 and 15, in clock ticks). */
async function processCpuMs(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticks;
}
const selfCpuMs = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

/** What a registry request is for, from its path: the rows of the per-round table. */
function kind(r: AccessLogEntry): string {
  const path = r.path.replace(/\?.*$/, '');
  const ref = path.replace(/^\/v2\/[^]*?\/(manifests|blobs)\//, '');
  if (path === '/v2/') return `${r.method} /v2/ (ping)`;
  if (path.includes('/blobs/uploads/')) return `${r.method} blob upload`;
  if (path.includes('/manifests/')) {
    const what = ref.startsWith('promotion-') ? 'record tag' : ref.startsWith('status-') ? 'status tag' : /^sha256-[0-9a-f]{64}\.sig$/.test(ref) ? 'signature tag' : /^sha256-[0-9a-f]{64}$/.test(ref) ? 'referrers index' : ref.startsWith('sha256:') ? 'manifest by digest' : 'manifest by tag';
    return `${r.method} ${what}`;
  }
  if (path.includes('/blobs/')) return `${r.method} blob`;
  if (path.includes('/referrers/')) return `${r.method} referrers API`;
  return `${r.method} ${path}`;
}
function byKind(requests: AccessLogEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of requests) out[kind(r)] = (out[kind(r)] ?? 0) + 1;
  return Object.fromEntries(Object.entries(out).sort());
}

/** N requests at once, raw fetch: the floor beside the fleet's figures. */
async function floor(reg: RegistryServer, url: string, method: 'HEAD' | 'GET'): Promise<{ ms: number; registryCpuMs: number }> {
  const cpu = await processCpuMs(reg.pid);
  const t = performance.now();
  await Promise.all(Array.from({ length: N }, async () => (await fetch(url, { method, headers: { accept: MANIFEST_ACCEPT.join(', ') } })).arrayBuffer()));
  const ms = performance.now() - t;
  return { ms, registryCpuMs: (await processCpuMs(reg.pid)) - cpu };
}

interface Agent {
  cluster: string;
  reconciler: Reconciler;
  last: { record?: string; phase?: string };
}

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'promote-fleet-bench-'));
  const reg = await startRegistry();
  const controller = new AbortController();
  const loops: Promise<unknown>[] = [];
  try {
    const p = await createProject(join(base, 'p'), reg.host, { name: 'fleet', agents: true });
    const clusters = Array.from({ length: N }, (_, i) => `fleet-${String(i).padStart(4, '0')}`);
    await writeFile(join(p.dir, 'environments', 'dev.yaml'), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: dev}\nspec:\n  parameters: {namespace: dev, replicas: 1}\n  clusters:\n${clusters.map((c) => `    - name: ${c}\n`).join('')}`);
    const [d1, d2, d3] = [await p.push(1), await p.push(2), await p.push(3)];
    const engine = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(base, 'engine-cache') });
    const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
    const first = (await promoteTo(engine, { stage: 'dev', bundle: d1 })).published!.digest;
    log(`fleet bench: ${N} clusters, interval ${INTERVAL_MS} ms, registry ${reg.url}`);

    const agents: Agent[] = [];
    for (const [i, cluster] of clusters.entries()) {
      const dir = join(base, 'agents', String(i));
      const owner = { pipeline: 'webapp', stage: 'dev', cluster };
      // One client per agent, as separate processes would have (own connections, own caches).
      const registry = await openRegistry(p.repository, { insecure: true, env: p.env });
      const { source, reporter } = agentParts({ registry, repository: p.repository, owner, promotionTrust: trust.promotions, bundleTrust: trust.bundles, signer: p.agent, cacheDir: join(dir, 'cache'), stateDir: join(dir, 'state') });
      agents.push({ cluster, last: {}, reconciler: new Reconciler({ owner, source, target: new DirTarget(join(dir, 'target')), reporter: reporter!, healthTimeoutMs: 0 }) });
    }

    // Warm-up: every agent converges on the first record (a fresh agent's first round).
    let t = performance.now();
    await reg.clearRequests();
    let cursor = 0;
    await Promise.all(Array.from({ length: WARM_UP_CONCURRENCY }, async () => {
      while (cursor < agents.length) {
        const a = agents[cursor++]!;
        const r = await a.reconciler.round();
        if (r.status.phase !== 'Converged' || r.status.record !== first) throw new Error(`${a.cluster}: first round ${r.status.phase}: ${r.status.message}`);
      }
    }));
    const warmUp = { ms: performance.now() - t, requestsPerAgent: (await reg.requests()).length / N };
    log(`warm-up: ${N} first rounds in ${Math.round(warmUp.ms)} ms`);

    // The fleet's loops, each started at a random point of the interval (agents restart at
    // random times: their rounds spread over the interval).
    let waiting: { record: string; left: number; resolve: () => void } | undefined;
    const onEntry = (a: Agent) => (e: Record<string, unknown>) => {
      if (e.msg !== 'reconciled') return;
      const was = a.last;
      a.last = { record: e.record as string, phase: e.phase as string };
      if (waiting && a.last.record === waiting.record && a.last.phase === 'Converged' && !(was.record === waiting.record && was.phase === 'Converged')) {
        if (--waiting.left === 0) waiting.resolve();
      }
    };
    for (const a of agents) {
      loops.push((async () => {
        await new Promise((r) => setTimeout(r, Math.random() * INTERVAL_MS));
        if (controller.signal.aborted) return;
        await runAgentLoop({ reconciler: a.reconciler, owner: { pipeline: 'webapp', stage: 'dev', cluster: a.cluster }, intervalMs: INTERVAL_MS, log: onEntry(a), signal: controller.signal });
      })());
    }
    await new Promise((r) => setTimeout(r, INTERVAL_MS)); // every loop is running

    // (1) promote → all Converged.
    await reg.clearRequests();
    const cpu0 = await processCpuMs(reg.pid);
    const self0 = selfCpuMs();
    t = performance.now();
    const promoted = await promoteTo(engine, { stage: 'dev', bundle: d2 });
    const promoteMs = performance.now() - t;
    const record = promoted.published!.digest;
    await new Promise<void>((resolve) => {
      const left = agents.filter((a) => !(a.last.record === record && a.last.phase === 'Converged')).length;
      waiting = { record, left, resolve };
      if (left === 0) resolve();
    });
    const convergeMs = performance.now() - t;
    const convergeRegistryCpu = (await processCpuMs(reg.pid)) - cpu0;
    const convergeSelfCpu = selfCpuMs() - self0;
    const convergeRequests = await reg.requests();
    log(`promote → ${N} Converged: ${Math.round(convergeMs)} ms`);

    // (2) the idle fleet.
    await reg.clearRequests();
    const cpu1 = await processCpuMs(reg.pid);
    const self1 = selfCpuMs();
    t = performance.now();
    await new Promise((r) => setTimeout(r, IDLE_INTERVALS * INTERVAL_MS));
    const idleMs = performance.now() - t;
    const idleRegistryCpu = (await processCpuMs(reg.pid)) - cpu1;
    const idleSelfCpu = selfCpuMs() - self1;
    const idleRequests = await reg.requests();
    const idleIntervals = idleMs / INTERVAL_MS;

    controller.abort();
    await Promise.all(loops);

    // (3) one agent's rounds by request: a new record, then nothing new.
    const promoted3 = (await promoteTo(engine, { stage: 'dev', bundle: d3 })).published!.digest;
    const one = agents[0]!;
    await reg.clearRequests();
    const changed = await one.reconciler.round();
    if (changed.status.record !== promoted3 || changed.status.phase !== 'Converged') throw new Error(`changed round: ${changed.status.phase} ${changed.status.message}`);
    const changedRound = await reg.requests();
    await reg.clearRequests();
    await one.reconciler.round();
    const idleRound = await reg.requests();

    // Floors, in the same run: N bare HEADs and N bare GETs of the record tag, all at once.
    const tagUrl = `${reg.url}/v2/acme/fleet/manifests/promotion-dev`;
    const heads = await floor(reg, tagUrl, 'HEAD');
    const gets = await floor(reg, tagUrl, 'GET');

    const figures = {
      clusters: N,
      intervalMs: INTERVAL_MS,
      warmUp,
      converge: {
        ms: convergeMs,
        promoteMs,
        requests: convergeRequests.length,
        requestsPerAgent: convergeRequests.length / N,
        registryCpuMs: convergeRegistryCpu,
        benchCpuMs: convergeSelfCpu,
        byKind: byKind(convergeRequests),
      },
      idle: {
        ms: idleMs,
        requests: idleRequests.length,
        requestsPerAgentPerInterval: idleRequests.length / N / idleIntervals,
        registryCpuMsPerInterval: idleRegistryCpu / idleIntervals,
        benchCpuMsPerInterval: idleSelfCpu / idleIntervals,
        byKind: byKind(idleRequests),
      },
      changedRound: { requests: changedRound.length, byKind: byKind(changedRound) },
      idleRound: { requests: idleRound.length, byKind: byKind(idleRound) },
      floors: { heads, gets },
    };
    if (JSON_OUTPUT) {
      console.log(JSON.stringify(figures));
      return;
    }
    const row = (cells: (string | number)[]): string => cells.map((c, i) => String(c).padEnd(i === 0 ? 52 : 22)).join('');
    const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    console.log(row(['measure', `fleet (N=${N})`, `floor: ${N} HEADs`, `floor: ${N} GETs`, 'goal']));
    console.log(row(['(1) promote → all Converged: wall', s(convergeMs), s(heads.ms), s(gets.ms), `≤ 60 s (interval ${s(INTERVAL_MS)})`]));
    console.log(row(['(1)   of which `promote to` itself', s(promoteMs), '', '', '']));
    console.log(row(['(1) registry requests per agent', (convergeRequests.length / N).toFixed(2), '1', '1', '']));
    console.log(row(['(1) registry CPU', s(convergeRegistryCpu), s(heads.registryCpuMs), s(gets.registryCpuMs), '']));
    console.log(row(['(1) agents\' CPU (this process)', s(convergeSelfCpu), '', '', '']));
    console.log(row(['(2) idle: requests per agent per interval', (idleRequests.length / N / idleIntervals).toFixed(3), '1', '1', '1']));
    console.log(row(['(2) idle: registry CPU per interval', s(idleRegistryCpu / idleIntervals), s(heads.registryCpuMs), s(gets.registryCpuMs), '']));
    console.log(row(['(2) idle: requests/s at the registry', (idleRequests.length / (idleMs / 1000)).toFixed(1), '', '', `N / interval = ${(N / (INTERVAL_MS / 1000)).toFixed(1)}`]));
    console.log(row(['(3) one changed round: requests', changedRound.length, '', '', '']));
    for (const [k, v] of Object.entries(byKind(changedRound))) console.log(row([`      ${k}`, v, '', '', '']));
    console.log(row(['(3) one idle round: requests', idleRound.length, '1', '1', '1']));
    for (const [k, v] of Object.entries(byKind(idleRound))) console.log(row([`      ${k}`, v, '', '', '']));
    console.log(row([`warm-up: ${N} first rounds, ${WARM_UP_CONCURRENCY} at a time`, s(warmUp.ms), '', '', `${warmUp.requestsPerAgent.toFixed(2)} requests per agent`]));
  } finally {
    controller.abort();
    await Promise.allSettled(loops);
    await reg.stop();
    await rm(base, { recursive: true, force: true });
  }
}

await main();
