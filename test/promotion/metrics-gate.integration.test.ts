import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startExporter, startPrometheus, type PrometheusServer } from '../harness/prometheus.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from './git-env.ts';
import { createProject, type TestProject } from './project.ts';

// `promote plan staging` and `promote to staging` through the real CLI, with a metrics gate
// asking a real Prometheus about dev (its exporter is set by this test), a real registry and a
// bare git repository as the ledger remote.

let registry: RegistryServer;
let prometheus: PrometheusServer;
let base: string;
const METRIC = 'promote_e2e_error_ratio';

before(async () => {
  const exporter = await startExporter();
  // dev's error ratio spikes from the start; the test brings it down later.
  exporter.set(METRIC, 0.25, { stage: 'dev', cluster: 'dev-1' });
  exporter.set(METRIC, 0.9, { stage: 'staging', cluster: 'staging-eu-1' });
  [registry, prometheus] = await Promise.all([startRegistry(), startPrometheus({ exporter })]);
  base = await mkdtemp(join(tmpdir(), 'promote-metrics-cli-'));
});
after(async () => {
  await Promise.all([registry?.stop(), prometheus?.stop()]);
  await rm(base, { recursive: true, force: true });
});

function promote(p: TestProject, args: string[]): Promise<Run> {
  return runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1' } });
}

test('plan and to staging with a metrics gate on a real Prometheus: the breach refuses (exit 3, nothing written), evidence in text and JSON; then it passes and promotes', async () => {
  const p = await createProject(join(base, 'p'), registry.host, { name: 'metrics' });
  const file = join(p.dir, 'pipelines', 'webapp.yaml');
  const pipeline = await readFile(file, 'utf8');
  const gate = `{metrics: {prometheus: "${prometheus.url}", query: '${METRIC}{stage="\${promote.stage}", cluster="\${promote.cluster}"}', expect: "value < 0.01", for: 3s, step: 1s}}`;
  assert.ok(pipeline.includes('gates: [{converged: {}}, {soak: 15m}]'));
  await writeFile(file, pipeline.replace('gates: [{converged: {}}, {soak: 15m}]', `gates: [${gate}]`));
  const valid = await runPromote(['validate'], { cwd: p.dir, env: p.env });
  assert.equal(valid.code, 0, valid.stdout + valid.stderr);

  const d1 = await p.push(1);
  const dev = await promote(p, ['to', 'dev', '--bundle', d1]);
  assert.equal(dev.code, 0, dev.stderr);
  await prometheus.waitFor(`${METRIC}{stage="dev"} == 0.25`);

  const plan = await promote(p, ['plan', 'staging', '--no-diff']);
  assert.equal(plan.code, 3, plan.stdout + plan.stderr);
  const head = /^ {2}FAIL {2}metrics promote_e2e_error_ratio\{stage="\$\{promote\.stage\}", cluster="\$\{promote\.cluster\}"\} expect value < 0\.01 for 3s: (\d+) of \1 samples fail value < 0\.01 over the last 3s in 1 cluster of dev, worst 0\.25 at \S+ promote_e2e_error_ratio\{cluster="dev-1", instance="127\.0\.0\.1:\d+", job="exporter", stage="dev"\} \(dev-1\)$/m;
  assert.match(plan.stdout, head);
  assert.match(plan.stdout, /^ {10}dev-1: 1 series, \d+ samples of promote_e2e_error_ratio\{stage="dev", cluster="dev-1"\}$/m, 'the query as sent, under the gate');
  assert.match(plan.stdout, /^ {10}window \S+ → \S+ \(3s\), step 1s$/m);
  assert.match(plan.stdout, /^ {10}fails \S+ {2}0\.25 {2}promote_e2e_error_ratio\{cluster="dev-1", .*stage="dev"\} \(dev-1\)$/m);

  const json = await promote(p, ['plan', 'staging', '--no-diff', '--output', 'json']);
  assert.equal(json.code, 3);
  const [metrics] = JSON.parse(json.stdout).gates as { type: string; passed: boolean; evidence: Record<string, unknown> }[];
  assert.equal(metrics!.type, 'metrics');
  assert.equal(metrics!.passed, false);
  const ev = metrics!.evidence as { runs: { cluster: string; query: string; series: number }[]; worst: { value: number; cluster: string }; worstIs: string; expect: string; window: { duration: string; source: string }; failing: { value: string }[]; failingSamples: number; samples: number };
  assert.deepEqual(ev.runs.map((r) => [r.cluster, r.query, r.series]), [['dev-1', `${METRIC}{stage="dev", cluster="dev-1"}`, 1]]);
  assert.deepEqual([ev.worst.value, ev.worst.cluster, ev.worstIs, ev.expect], [0.25, 'dev-1', 'max', 'value < 0.01']);
  assert.deepEqual([ev.window.duration, ev.window.source], ['3s', 'for']);
  assert.ok(ev.failing.length > 0 && ev.failingSamples === ev.samples);

  const ledgerBefore = git(p.ledgerRemote, p.env, 'rev-parse', 'main').trim();
  const refused = await promote(p, ['to', 'staging']);
  assert.equal(refused.code, 3, refused.stdout + refused.stderr);
  assert.match(refused.stderr, /error: 1 of 1 gate of staging did not pass: metrics promote_e2e_error_ratio.*\n {2}- metrics .*: \d+ of \d+ samples fail value < 0\.01/);
  assert.equal(git(p.ledgerRemote, p.env, 'rev-parse', 'main').trim(), ledgerBefore, 'the ledger is unchanged');
  assert.equal(await p.registry.resolve('promotion-staging'), undefined, 'no record published');

  // dev recovers; once the whole 3s window is clean the gate passes and staging is promoted.
  prometheus.exporter.set(METRIC, 0.001, { stage: 'dev', cluster: 'dev-1' });
  await prometheus.waitFor(`max_over_time(${METRIC}{stage="dev"}[4s]) < 0.01`);
  const ok = await promote(p, ['plan', 'staging', '--no-diff']);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  assert.match(ok.stdout, /^ {2}pass {2}metrics .*: all \d+ samples of 1 series pass value < 0\.01 over the last 3s in 1 cluster of dev \(worst 0\.001\)$/m);
  const to = await promote(p, ['to', 'staging', '--output', 'json']);
  assert.equal(to.code, 0, to.stdout + to.stderr);
  assert.notEqual(git(p.ledgerRemote, p.env, 'rev-parse', 'main').trim(), ledgerBefore);
  assert.ok(await p.registry.resolve('promotion-staging'), 'the record is published');
  const recorded = JSON.parse(to.stdout) as { gates?: { type: string; passed: boolean; evidence: { worst: { value: number } } }[] };
  const g = recorded.gates?.find((x) => x.type === 'metrics');
  assert.deepEqual([g?.passed, g?.evidence.worst.value], [true, 0.001], to.stdout);
});
