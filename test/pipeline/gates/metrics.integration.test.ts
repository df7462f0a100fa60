import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { memoiseFacts, type GateFacts, type GateInput } from '../../../src/pipeline/gate.ts';
import { evaluateGates } from '../../../src/pipeline/gates/evaluate.ts';
import type { MetricsGateSpec } from '../../../src/pipeline/gates/metrics.ts';
import { gateFetch } from '../../../src/promotion/gate-fetch.ts';
import { startExporter, startPrometheus, type PrometheusServer } from '../../harness/prometheus.ts';

// The metrics gate against a real Prometheus (Debian's 2.42) scraping an exporter this test
// controls every second, through the engine's own fetch (src/promotion/gate-fetch.ts). Windows
// of a few seconds keep it short: one Prometheus for the file (~6 s to its first scrape).

const D1 = `sha256:${'1'.repeat(64)}`;
let prometheus: PrometheusServer;

before(async () => {
  const exporter = await startExporter();
  // Set before Prometheus starts: scraped from its first scrape on.
  exporter.set('promote_ok_ratio', 0.001, { stage: 'dev' });
  exporter.set('promote_ok_ratio', 0.004, { stage: 'prod' });
  prometheus = await startPrometheus({ exporter });
});
after(async () => {
  await prometheus?.stop();
});

const facts: GateFacts = memoiseFacts({
  upstreamReports: async () => ({ clusters: ['dev-1'], reports: [] }),
  approvals: async () => ({ signed: false, approvals: [] }),
  fetch: (url, request) => gateFetch(url, request, { root: '/' }),
  secret: async () => { throw new Error('no secret in these tests'); },
  rendered: async () => { throw new Error('no render in these tests'); },
});

function spec(over: Partial<MetricsGateSpec>): MetricsGateSpec {
  return { type: 'metrics', prometheus: prometheus.url, query: 'promote_missing', expect: 'value < 0.01', for: '4s', forMs: 4000, step: '1s', stepMs: 1000, timeout: '5s', timeoutMs: 5000, ...over };
}

async function judge(s: MetricsGateSpec) {
  const input: GateInput = { pipeline: 'webapp', stage: 'staging', from: 'dev', candidate: D1, now: new Date(), promoter: 'Pat <pat@example.com>' };
  const [result] = await evaluateGates([s], { input, facts });
  return result!;
}

test('metrics against a real Prometheus: passes when every sample of the window is under the threshold', async () => {
  // Enough scrapes that the whole 3s window holds samples.
  await prometheus.waitFor('count_over_time(promote_ok_ratio{stage="dev"}[3s]) >= 3');
  const r = await judge(spec({ query: 'promote_ok_ratio{stage="${promote.stage}"}', for: '3s', forMs: 3000 }));
  assert.equal(r.passed, true, r.summary);
  assert.equal(r.evidence.query, 'promote_ok_ratio{stage="dev"}', 'the query as sent');
  assert.equal(r.evidence.series, 1, 'only the from stage\'s series');
  assert.ok((r.evidence.samples as number) >= 3, `samples: ${r.evidence.samples}`);
  assert.equal((r.evidence.worst as { value: number; labels: Record<string, string> }).value, 0.001);
  assert.equal((r.evidence.worst as { labels: Record<string, string> }).labels.job, 'exporter');
  assert.match(r.summary, /^all \d+ samples of 1 series pass value < 0\.01 over the last 3s \(worst 0\.001\)$/);
});

test('metrics against a real Prometheus: one breach in the window refuses though the latest value is fine (not one instant)', async () => {
  prometheus.exporter.set('promote_spike_ratio', 0.5, { stage: 'dev' });
  await prometheus.waitFor('promote_spike_ratio == 0.5');
  prometheus.exporter.set('promote_spike_ratio', 0.002, { stage: 'dev' });
  await prometheus.waitFor('promote_spike_ratio == 0.002');
  // What an instant check sees now passes: only the range over the window finds the spike.
  assert.deepEqual((await prometheus.query('promote_spike_ratio')).map((s) => s.value[1]), ['0.002']);
  const r = await judge(spec({ query: 'promote_spike_ratio', for: '8s', forMs: 8000 }));
  assert.equal(r.passed, false, r.summary);
  assert.equal(r.evidence.code, undefined);
  const failing = r.evidence.failing as { value: string; at: string; labels: Record<string, string> }[];
  assert.ok(failing.length >= 1 && failing.every((f) => f.value === '0.5' && f.labels.stage === 'dev'), JSON.stringify(failing));
  assert.equal((r.evidence.worst as { value: number }).value, 0.5);
  assert.ok((r.evidence.failingSamples as number) < (r.evidence.samples as number), 'the later samples pass');
  assert.match(r.summary, /^\d+ of \d+ samples fail value < 0\.01 over the last 8s, worst 0\.5 at \S+ promote_spike_ratio\{instance="127\.0\.0\.1:\d+", job="exporter", stage="dev"\}$/);
  assert.ok((r.evidence.findings as string[]).some((f) => /^fails \S+ {2}0\.5 {2}promote_spike_ratio\{/.test(f)), String(r.evidence.findings));
});

test('metrics against a real Prometheus: a metric that does not exist is no data, a refusal', async () => {
  const r = await judge(spec({ query: 'promote_metric_that_does_not_exist{stage="${promote.stage}"}' }));
  assert.equal(r.passed, false);
  assert.equal(r.evidence.code, 'GATE_NO_DATA');
  assert.equal(r.summary, 'no data: the query matched no series over the last 4s');
});

test('metrics against a real Prometheus: bad PromQL refuses with Prometheus\' own error', async () => {
  const r = await judge(spec({ query: 'sum by (job' }));
  assert.equal(r.passed, false);
  assert.equal(r.evidence.code, 'GATE_QUERY_FAILED');
  assert.match(r.summary, /^Prometheus refused the query: bad_data: .*parse error.* \(HTTP 400\)$/);
});

async function silentServer(): Promise<{ url: string; server: Server }> {
  const server = createServer(() => { /* accepts, never answers */ });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

test('metrics: a server that never answers is a timeout, a closed port unreachable: both refusals', async () => {
  const { url, server } = await silentServer();
  try {
    const started = Date.now();
    const r = await judge(spec({ prometheus: url, timeout: '1s', timeoutMs: 1000 }));
    const ms = Date.now() - started;
    assert.equal(r.passed, false);
    assert.equal(r.evidence.code, 'GATE_TIMEOUT');
    assert.match(r.summary, /did not answer within 1s/);
    assert.ok(ms >= 950 && ms < 4000, `took ${ms} ms`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  }
  // The same port, now closed.
  const r = await judge(spec({ prometheus: url }));
  assert.equal(r.passed, false);
  assert.equal(r.evidence.code, 'GATE_UNREACHABLE');
  assert.match(r.summary, /cannot reach http:\/\/127\.0\.0\.1:\d+\/api\/v1\/query_range: .*ECONNREFUSED/);
});
