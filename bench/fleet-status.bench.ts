// Reading a fleet's status reports (issue 19, "Scale"): BENCH_CLUSTERS clusters (default 1,000)
// in one environment on one real registry (distribution 2.8), each with a signed status report.
// Timed, cold (empty cache) and warm (the reports unchanged since the last read):
//  - readStatusReports (the reader the gates and `promote status` share), and the old way it read
//    (every cluster at once, each a full manifest + blob fetch and a signature check);
//  - `promote status` through the library (pipelineStatus) and the CLI;
//  - the `converged` gate: the plan of the next stage (library planStage and the CLI).
// Beside each, its floors measured in the same run: N bare HEADs of the tags and N bare GETs of
// the manifests (node:http, REPORT_CONCURRENCY at a time), and the registry requests it sent.
// Goal: ≤ 3 s for status and the gate at 1,000 clusters.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forEachConcurrently } from '../src/oci/concurrency.ts';
import { MANIFEST_ACCEPT } from '../src/oci/media-types.ts';
import { openProject } from '../src/promotion/project.ts';
import { planStage } from '../src/promotion/plan.ts';
import { ReportCache } from '../src/promotion/report-cache.ts';
import { ReportMarks } from '../src/promotion/report-marks.ts';
import { pipelineStatus } from '../src/promotion/status.ts';
import { promoteTo } from '../src/promotion/to.ts';
import { loadTrustPolicy } from '../src/signing/policy.ts';
import { publishStatusReport, readStatusReport, readStatusReports, REPORT_CONCURRENCY, statusTag } from '../src/records/status-report.ts';
import { promote as runCli } from '../test/cli/run-promote.ts';
import { startRegistry } from '../test/harness/registry.ts';
import { createProject } from '../test/promotion/project.ts';

export interface FleetStatusRow {
  measure: string;
  ms: number;
  requests: number;
  /** Whether the figure is one the ≤ 3 s goal is about. */
  goal?: boolean;
}

export interface FleetStatusResult {
  clusters: number;
  rows: FleetStatusRow[];
  floors: { heads: number; gets: number };
  /** Reports each reader returned (every one Converged and verified), per row. */
  checks: Record<string, number>;
}

export interface FleetStatusOptions {
  clusters: number;
  /** Reports published at once while seeding (default REPORT_CONCURRENCY). */
  publishConcurrency?: number;
  /** Also time the CLI (a child process per figure). */
  cli?: boolean;
  log?: (line: string) => void;
}

export async function measureFleetStatus(options: FleetStatusOptions): Promise<FleetStatusResult> {
  const n = options.clusters;
  const log = options.log ?? (() => {});
  const base = await mkdtemp(join(tmpdir(), 'promote-fleet-status-'));
  const reg = await startRegistry();
  try {
    const p = await createProject(join(base, 'p'), reg.host, { name: 'fleet', agents: true, productionGates: '[{converged: {}}]' });
    const clusters = Array.from({ length: n }, (_, i) => `c-${String(i + 1).padStart(4, '0')}`);
    await writeFile(join(p.dir, 'environments', 'staging.yaml'), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: staging}\nspec:\n  parameters: {namespace: staging, replicas: 1}\n  clusters:\n${clusters.map((c) => `    - name: ${c}\n`).join('')}`);
    const seedEnv = { ...p.env, PROMOTE_CACHE_DIR: join(base, 'seed-cache') };
    const engine = await openProject({ cwd: p.dir, env: seedEnv, registry: { insecure: true }, signer: p.promoter });
    const digest = await p.push(1);
    const bundle = (await p.registry.resolve(digest))!;
    const report = async (stage: string, cluster: string, record: string | undefined) => publishStatusReport(p.registry, bundle, {
      pipeline: 'webapp', stage, cluster, phase: 'Converged', bundle: { repository: p.repository, digest }, ...(record && { record }),
      since: new Date(Date.now() - 3_600_000).toISOString(), observedAt: new Date().toISOString(), sequence: 1,
    }, p.agent);
    const dev = await promoteTo(engine, { stage: 'dev', bundle: digest });
    await report('dev', 'dev-1', dev.published?.digest);
    const staging = await promoteTo(engine, { stage: 'staging', bundle: digest });
    if (!staging.published) throw new Error('staging was not promoted');
    let seeded = 0;
    const t0 = performance.now();
    await forEachConcurrently(clusters, options.publishConcurrency ?? REPORT_CONCURRENCY, async (c) => {
      await report('staging', c, staging.published!.digest);
      if (++seeded % 100 === 0) log(`seeded ${seeded}/${n} reports (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
    });

    // Cold: no report verified yet (no cached report, no replay mark); the ledger's clone is
    // there already, as it is for anyone who ran promote before — its cost is not the reports'.
    const forget = (cacheRoot: string) => Promise.all(['reports', 'gates'].map((d) => rm(join(cacheRoot, d), { recursive: true, force: true })));
    const rows: FleetStatusRow[] = [];
    const checks: Record<string, number> = {};
    const measure = async <T>(name: string, fn: () => Promise<T>, goal = false): Promise<T> => {
      await reg.clearRequests();
      const t = performance.now();
      const out = await fn();
      const ms = performance.now() - t;
      rows.push({ measure: name, ms, requests: (await reg.requests()).length, ...(goal && { goal }) });
      log(`${name}: ${ms.toFixed(0)} ms`);
      return out;
    };
    // node:http with a keep-alive agent, as the registry client uses (fetch closes the
    // connection after a HEAD here, which would make the floor a connection set-up each).
    const agent = new HttpAgent({ keepAlive: true, maxSockets: REPORT_CONCURRENCY });
    const raw = (method: 'HEAD' | 'GET') => forEachConcurrently(clusters, REPORT_CONCURRENCY, (c) => new Promise<void>((resolve, reject) => {
      const req = httpRequest(`${reg.url}/v2/acme/fleet/manifests/${statusTag('staging', c)}`, { method, agent, headers: { accept: MANIFEST_ACCEPT.join(', ') } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${method} ${c}: ${res.statusCode}`))));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    }));
    // Warm the registry's own caches and the connections first, so the floors are not a cold start.
    await raw('HEAD');
    await measure(`floor: ${n} bare HEADs of the tags`, () => raw('HEAD'));
    await measure(`floor: ${n} bare GETs of the manifests`, () => raw('GET'));

    const trust = await loadTrustPolicy(['keys/agent.pub'], { baseDir: p.dir });
    const converged = (name: string, reports: { phase: string; verified?: boolean }[]) => {
      checks[name] = reports.filter((r) => r.phase === 'Converged' && r.verified === true).length;
    };
    converged('before', await measure('readStatusReports before (all at once, full fetch each)', () => Promise.all(clusters.map((c) => readStatusReport(p.registry, 'staging', c, trust, 'webapp')))).then((r) => r.filter((x) => x !== undefined)));
    const libCache = join(base, 'lib-cache');
    const libOptions = () => ({ cache: new ReportCache(join(libCache, 'reports')), marks: new ReportMarks(join(libCache, 'gates')) });
    converged('reader cold, no marks', await measure('readStatusReports cold, cache without marks', () => readStatusReports(p.registry, 'staging', clusters, trust, 'webapp', { cache: new ReportCache(join(base, 'nomarks-cache')) })));
    converged('reader cold', await measure('readStatusReports cold', () => readStatusReports(p.registry, 'staging', clusters, trust, 'webapp', libOptions())));
    converged('reader warm', await measure('readStatusReports warm', () => readStatusReports(p.registry, 'staging', clusters, trust, 'webapp', libOptions())));

    const statusEnv = { ...p.env, PROMOTE_CACHE_DIR: join(base, 'status-cache') };
    const status = () => pipelineStatus({ cwd: p.dir, env: statusEnv, registry: { insecure: true } });
    await status();
    await forget(statusEnv.PROMOTE_CACHE_DIR);
    const inSync = (name: string, s: Awaited<ReturnType<typeof status>>) => { checks[name] = s.clusters.filter((c) => c.stage === 'staging' && c.inSync).length; };
    inSync('status cold', await measure('promote status (library) cold', status, true));
    inSync('status warm', await measure('promote status (library) warm', status, true));

    const gateEnv = { ...p.env, PROMOTE_CACHE_DIR: join(base, 'gate-cache') };
    const plan = async () => planStage(await openProject({ cwd: p.dir, env: gateEnv, registry: { insecure: true } }), { stage: 'production' });
    await plan();
    await forget(gateEnv.PROMOTE_CACHE_DIR);
    const gate = (name: string, pl: Awaited<ReturnType<typeof plan>>) => {
      const g = pl.gates.find((x) => x.type === 'converged');
      if (!g?.passed) throw new Error(`${name}: the converged gate did not pass: ${g?.summary}`);
      checks[name] = n;
    };
    gate('gate cold', await measure('converged gate (plan production, library) cold', plan, true));
    gate('gate warm', await measure('converged gate (plan production, library) warm', plan, true));

    if (options.cli !== false) {
      const cli = async (args: string[], env: NodeJS.ProcessEnv) => {
        const run = await runCli([...args, '--output', 'json', '--insecure'], { cwd: p.dir, env: { ...env, NO_COLOR: '1' } });
        if (run.code !== 0) throw new Error(`promote ${args.join(' ')} exited ${run.code}: ${run.stderr}`);
        return JSON.parse(run.stdout) as Record<string, unknown>;
      };
      const cliStatusEnv = { ...p.env, PROMOTE_CACHE_DIR: join(base, 'cli-status-cache') };
      await cli(['status'], cliStatusEnv);
      await forget(cliStatusEnv.PROMOTE_CACHE_DIR);
      for (const temp of ['cold', 'warm']) {
        const s = await measure(`promote status (CLI) ${temp}`, () => cli(['status'], cliStatusEnv), true) as unknown as { clusters: { stage: string; inSync: boolean }[] };
        checks[`cli status ${temp}`] = s.clusters.filter((c) => c.stage === 'staging' && c.inSync).length;
      }
      const cliGateEnv = { ...p.env, PROMOTE_CACHE_DIR: join(base, 'cli-gate-cache') };
      await cli(['plan', 'production'], cliGateEnv);
      await forget(cliGateEnv.PROMOTE_CACHE_DIR);
      for (const temp of ['cold', 'warm']) {
        const pl = await measure(`converged gate (promote plan production, CLI) ${temp}`, () => cli(['plan', 'production'], cliGateEnv), true) as { plan?: { gates: { type: string; passed: boolean }[] }; gates?: { type: string; passed: boolean }[] };
        const g = (pl.plan ?? pl).gates?.find((x) => x.type === 'converged');
        if (!g?.passed) throw new Error(`CLI plan ${temp}: the converged gate did not pass`);
        checks[`cli gate ${temp}`] = n;
      }
    }
    agent.destroy();
    const floors = { heads: rows[0]!.ms, gets: rows[1]!.ms };
    return { clusters: n, rows, floors, checks };
  } finally {
    await reg.stop();
    await rm(base, { recursive: true, force: true });
  }
}

export function fleetStatusTable(result: FleetStatusResult): string {
  const cell = (c: string | number, i: number) => String(c).padEnd(i === 0 ? 58 : 14);
  const lines = [['measure', 'ms', 'requests', 'x HEAD floor', 'x GET floor', 'goal'].map(cell).join('')];
  for (const r of result.rows) {
    lines.push([r.measure, r.ms.toFixed(0), r.requests, (r.ms / result.floors.heads).toFixed(2), (r.ms / result.floors.gets).toFixed(2), r.goal ? (r.ms <= 3000 ? '≤ 3 s: met' : '≤ 3 s: MISSED') : ''].map(cell).join(''));
  }
  return lines.join('\n');
}

if (import.meta.main) {
  const clusters = Number(process.env.BENCH_CLUSTERS ?? 1000);
  const result = await measureFleetStatus({
    clusters,
    ...(process.env.BENCH_PUBLISH_CONCURRENCY && { publishConcurrency: Number(process.env.BENCH_PUBLISH_CONCURRENCY) }),
    cli: process.env.BENCH_CLI !== '0',
    log: (l) => process.stderr.write(`${l}\n`),
  });
  console.log(`${clusters} clusters in one environment, one registry (distribution 2.8); concurrency ${REPORT_CONCURRENCY}`);
  console.log(fleetStatusTable(result));
  console.log(`verified Converged reports per reader: ${JSON.stringify(result.checks)}`);
}
