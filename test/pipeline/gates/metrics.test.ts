import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { PromoteError, isPromoteError } from '../../../src/errors.ts';
import type { GateFacts, GateInput, GateRequest, GateResponse } from '../../../src/pipeline/gate.ts';
import { memoiseFacts } from '../../../src/pipeline/gate.ts';
import { evaluateGates } from '../../../src/pipeline/gates/evaluate.ts';
import { defaultStepMs, metricsGate, worstDirection, type MetricsGateSpec } from '../../../src/pipeline/gates/metrics.ts';
import { checkQuery, escapePromQLString, expandQuery, placeholders } from '../../../src/pipeline/gates/metrics-query.ts';
import { loadPipeline } from '../../../src/pipeline/load.ts';
import { noOutsideFacts } from '../no-outside-facts.ts';
import { twoStageProject } from './two-stage-project.ts';

// The metrics gate's pure logic, with Prometheus replaced by an in-process fake of
// GateFacts.fetch that answers with matrices the test writes (test/pipeline/gates/
// metrics.integration.test.ts asks the real Prometheus).

const D1 = `sha256:${'1'.repeat(64)}`;
const NOW = new Date('2026-03-30T10:00:00Z');
const input: GateInput = { pipeline: 'webapp', stage: 'staging', from: 'dev', candidate: D1, now: NOW, promoter: 'Pat <pat@example.com>' };

function spec(over: Partial<MetricsGateSpec> = {}): MetricsGateSpec {
  return { type: 'metrics', prometheus: 'http://prom.test:9090', query: 'errors{stage="${promote.stage}"}', expect: 'value < 0.01', for: '1m', forMs: 60_000, timeout: '10s', timeoutMs: 10_000, ...over };
}

interface Sent { url: string; request: GateRequest; form: URLSearchParams }

/** An in-process fake of fetch: every request is kept; `answer` writes the response. */
function fakeFacts(answer: (sent: Sent) => GateResponse | Promise<GateResponse>, extra: Partial<GateFacts> = {}) {
  const sent: Sent[] = [];
  const facts: GateFacts = {
    ...noOutsideFacts,
    upstreamReports: async () => ({ clusters: ['dev-1', 'dev-"2'], reports: [] }),
    approvals: async () => ({ signed: false, approvals: [] }),
    fetch: async (url, request) => {
      const s = { url, request, form: new URLSearchParams(request.body ?? '') };
      sent.push(s);
      return answer(s);
    },
    ...extra,
  };
  return { sent, facts: memoiseFacts(facts) };
}

const json = (body: unknown, status = 200): GateResponse => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const matrix = (...series: { metric: Record<string, string>; values: [number, string][] }[]) => json({ status: 'success', data: { resultType: 'matrix', result: series } });
const t0 = NOW.getTime() / 1000 - 60;

async function judge(s: MetricsGateSpec, facts: GateFacts, over: Partial<GateInput> = {}) {
  const [result] = await evaluateGates([s], { input: { ...input, ...over }, facts });
  return result!;
}

test('metrics (fake fetch): one range query over the window ending now, POSTed as a form, with the default step', async () => {
  const { sent, facts } = fakeFacts(() => matrix({ metric: { __name__: 'errors', stage: 'dev' }, values: [[t0, '0.001'], [t0 + 30, '0.002']] }));
  const r = await judge(spec(), facts);
  assert.equal(r.passed, true, r.summary);
  assert.equal(sent.length, 1);
  const [{ url, request, form }] = sent as [Sent];
  assert.equal(url, 'http://prom.test:9090/api/v1/query_range');
  assert.equal(request.method, 'POST');
  assert.equal(request.headers?.['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(request.timeoutMs, 10_000);
  assert.equal(form.get('query'), 'errors{stage="dev"}', '${promote.stage} is the from stage, whose running system is measured');
  assert.equal(form.get('start'), (t0).toFixed(3));
  assert.equal(form.get('end'), (NOW.getTime() / 1000).toFixed(3));
  assert.equal(form.get('step'), '1');
  assert.equal(request.headers?.authorization, undefined);
  assert.deepEqual(r.evidence.window, { from: '2026-03-30T09:59:00.000Z', to: '2026-03-30T10:00:00.000Z', duration: '1m', source: 'for', step: '1s' });
  assert.equal(r.evidence.query, 'errors{stage="dev"}');
  assert.equal(r.evidence.series, 1);
  assert.equal(r.evidence.samples, 2);
  assert.deepEqual(r.evidence.worst, { at: '2026-03-30T09:59:30.000Z', labels: { __name__: 'errors', stage: 'dev' }, value: 0.002 });
  assert.equal(r.evidence.worstIs, 'max');
  assert.equal(r.summary, 'all 2 samples of 1 series pass value < 0.01 over the last 1m (worst 0.002)');
  assert.ok((r.evidence.findings as string[]).includes('worst 0.002 at 2026-03-30T09:59:30.000Z errors{stage="dev"}'));
});

test('metrics (fake fetch): the window is the stage\'s soak when the gate has no for:, and the step keeps it to ~250 samples', async () => {
  const { sent, facts } = fakeFacts(() => matrix({ metric: {}, values: [[t0, '0']] }));
  const r = await judge(spec({ for: undefined, forMs: undefined }), facts, { soakMs: 15 * 60_000 });
  assert.equal(r.passed, true, r.summary);
  assert.equal(sent[0]!.form.get('start'), ((NOW.getTime() - 15 * 60_000) / 1000).toFixed(3));
  assert.equal(sent[0]!.form.get('step'), '4');
  assert.deepEqual(r.evidence.window, { from: '2026-03-30T09:45:00.000Z', to: '2026-03-30T10:00:00.000Z', duration: '15m', source: 'soak', step: '4s' });
  assert.match(r.summary, /over the last 15m \(the soak\)/);
  assert.equal(defaultStepMs(10_000), 1000, 'never below 1s');
  assert.equal(defaultStepMs(24 * 3_600_000), 346_000, 'a day: 250 samples of 346s');
  const own = fakeFacts(() => matrix({ metric: {}, values: [[t0, '0']] }));
  await judge(spec({ step: '15s', stepMs: 15_000 }), own.facts, { soakMs: 15 * 60_000 });
  assert.equal(own.sent[0]!.form.get('step'), '15');
  assert.equal(own.sent[0]!.form.get('start'), t0.toFixed(3), 'for: wins over the soak');
  const tls = fakeFacts(() => matrix({ metric: {}, values: [[t0, '0']] }));
  await judge(spec({ prometheus: 'https://prom.test/prometheus', caFile: 'certs/ca.pem', timeout: '3s', timeoutMs: 3000 }), tls.facts);
  assert.equal(tls.sent[0]!.url, 'https://prom.test/prometheus/api/v1/query_range', 'a path prefix is kept');
  assert.equal(tls.sent[0]!.request.caFile, 'certs/ca.pem');
  assert.equal(tls.sent[0]!.request.timeoutMs, 3000);
  assert.equal(tls.sent[0]!.form.get('timeout'), '3', 'Prometheus gives up when the gate does');
});

test('metrics (fake fetch): every sample must pass: one breach in the window refuses though the latest sample is fine', async () => {
  const values: [number, string][] = [[t0, '0.001'], [t0 + 10, '0.002'], [t0 + 20, '0.5'], [t0 + 30, '0.003'], [t0 + 40, '0.001']];
  const { facts } = fakeFacts(() => matrix(
    { metric: { __name__: 'errors', stage: 'dev', pod: 'a' }, values },
    { metric: { __name__: 'errors', stage: 'dev', pod: 'b' }, values: [[t0, '0.002'], [t0 + 40, '0.02']] },
  ));
  const r = await judge(spec(), facts);
  assert.equal(r.passed, false);
  assert.equal(r.evidence.code, undefined, 'a breach is a verdict, not an error');
  assert.equal(r.evidence.failingSamples, 2);
  assert.equal(r.evidence.samples, 7);
  assert.equal(r.evidence.series, 2);
  assert.deepEqual(r.evidence.failing, [
    { at: '2026-03-30T09:59:20.000Z', labels: { __name__: 'errors', stage: 'dev', pod: 'a' }, value: '0.5' },
    { at: '2026-03-30T09:59:40.000Z', labels: { __name__: 'errors', stage: 'dev', pod: 'b' }, value: '0.02' },
  ]);
  assert.equal((r.evidence.worst as { value: number }).value, 0.5);
  assert.equal(r.summary, '2 of 7 samples fail value < 0.01 over the last 1m, worst 0.5 at 2026-03-30T09:59:20.000Z errors{stage="dev", pod="a"}');
  assert.ok((r.evidence.findings as string[]).includes('fails 2026-03-30T09:59:20.000Z  0.5  errors{stage="dev", pod="a"}'));
});

test('metrics (fake fetch): the worst value follows the expression: the min for >, min and max for anything else', async () => {
  assert.equal(worstDirection('value < 0.01'), 'max');
  assert.equal(worstDirection(' value <= 5 '), 'max');
  assert.equal(worstDirection('value >= 0.99'), 'min');
  assert.equal(worstDirection('0.99 < value'), 'min');
  assert.equal(worstDirection('1 >= value'), 'max');
  assert.equal(worstDirection('value < 1 && value > 0'), undefined);
  assert.equal(worstDirection('labels.job == "x" || value < 1'), undefined);
  const answer = () => matrix({ metric: { job: 'api' }, values: [[t0, '0.999'], [t0 + 10, '0.95'], [t0 + 20, '0.998']] });
  const up = await judge(spec({ expect: 'value >= 0.99' }), fakeFacts(answer).facts);
  assert.equal(up.passed, false);
  assert.deepEqual([up.evidence.worstIs, (up.evidence.worst as { value: number }).value], ['min', 0.95]);
  const both = await judge(spec({ expect: 'value > 0.9 && labels.job == "api"' }), fakeFacts(answer).facts);
  assert.equal(both.passed, true, both.summary);
  assert.equal(both.evidence.worst, undefined);
  assert.deepEqual([(both.evidence.min as { value: number }).value, (both.evidence.max as { value: number }).value], [0.95, 0.999]);
  assert.match(both.summary, /\(min 0\.95, max 0\.999\)$/);
});

test('metrics (fake fetch): NaN and ±Inf samples fail whatever the expression says', async () => {
  for (const bad of ['NaN', '+Inf', '-Inf']) {
    const { facts } = fakeFacts(() => matrix({ metric: {}, values: [[t0, '0'], [t0 + 10, bad]] }));
    // !(value > 1) is true for NaN in CEL: the gate must not let it through.
    const r = await judge(spec({ expect: '!(value > 1) && !(value < -1)' }), facts);
    assert.equal(r.passed, false, bad);
    assert.equal(r.evidence.nonFinite, 1);
    assert.deepEqual((r.evidence.failing as { value: string }[]).map((f) => f.value), [bad]);
  }
});

test('metrics (fake fetch): each refusal is a failed gate with the code in its evidence, never a pass or a throw', async () => {
  const cases: [string, () => GateResponse | Promise<GateResponse>, string, RegExp, Partial<MetricsGateSpec>?][] = [
    ['no data', () => matrix(), 'GATE_NO_DATA', /^no data: the query matched no series over the last 1m$/],
    ['a bad query', () => json({ status: 'error', errorType: 'bad_data', error: 'invalid parameter "query": 1:7: parse error: unexpected <by>' }, 400), 'GATE_QUERY_FAILED', /^Prometheus refused the query: bad_data: invalid parameter "query": 1:7: parse error: unexpected <by> \(HTTP 400\)$/],
    ['an HTML 502', () => ({ status: 502, headers: {}, body: '<html>Bad Gateway</html>' }), 'GATE_HTTP_STATUS', /answered HTTP 502: <html>Bad Gateway<\/html>$/],
    ['a 401', () => ({ status: 401, headers: {}, body: 'Unauthorized' }), 'GATE_HTTP_STATUS', /answered HTTP 401: Unauthorized$/],
    ['not JSON', () => ({ status: 200, headers: {}, body: 'hello' }), 'GATE_RESPONSE_INVALID', /not JSON \(hello\)/],
    ['a vector', () => json({ status: 'success', data: { resultType: 'vector', result: [] } }), 'GATE_RESPONSE_INVALID', /a "vector", not the matrix/],
    ['a broken sample', () => json({ status: 'success', data: { resultType: 'matrix', result: [{ metric: {}, values: [['x', 1]] }] } }), 'GATE_RESPONSE_INVALID', /is not \[unix time, "value"\]/],
    ['a timeout', () => { throw new PromoteError('GATE_TIMEOUT', 'http://prom.test:9090/api/v1/query_range did not answer within 10s', { outcome: 'refused' }); }, 'GATE_TIMEOUT', /did not answer within 10s/],
    ['a server down', () => { throw new PromoteError('GATE_UNREACHABLE', 'cannot reach http://prom.test:9090/api/v1/query_range: connect ECONNREFUSED', { outcome: 'refused' }); }, 'GATE_UNREACHABLE', /ECONNREFUSED/],
    ['a CEL error', () => matrix({ metric: { job: 'a' }, values: [[t0, '0']] }), 'GATE_EXPRESSION_ERROR', /^expect failed on 2026-03-30T09:59:00.000Z  0  \{job="a"\}: field not found: pod$/, { expect: 'labels.pod == "x"' }],
    ['an expression that is not a bool', () => matrix({ metric: {}, values: [[t0, '0']] }), 'GATE_EXPRESSION_ERROR', /the expression gave the number 0, not true or false/, { expect: 'value' }],
  ];
  for (const [name, answer, code, summary, over] of cases) {
    const r = await judge(spec(over), fakeFacts(answer).facts);
    assert.equal(r.passed, false, name);
    assert.equal(r.evidence.code, code, name);
    assert.match(r.summary, summary, name);
    assert.ok((r.evidence.findings as string[]).some((f) => f.startsWith('1 series') || f.startsWith('0 series')), name);
    assert.ok(!(r.evidence.findings as string[]).includes(r.summary), `${name}: the plan prints the summary once`);
  }
});

test('metrics (fake fetch): the bearer token is sent as Authorization and appears nowhere in the verdict; a missing one refuses', async () => {
  const TOKEN = 'tok-3f9a1c77e2b54d08a6c1-secret';
  // A proxy that echoes the token in its error page: the gate repeats the page, never the token.
  const { sent, facts } = fakeFacts(() => ({ status: 401, headers: {}, body: `token ${TOKEN} is not valid here` }), { secret: async (ref) => (('env' in ref && ref.env === 'PROM_TOKEN') ? TOKEN : Promise.reject(new Error('wrong ref'))) });
  const r = await judge(spec({ bearerTokenFrom: { env: 'PROM_TOKEN' } }), facts);
  assert.equal(sent[0]!.request.headers?.authorization, `Bearer ${TOKEN}`);
  assert.equal(r.passed, false);
  assert.equal(r.evidence.code, 'GATE_HTTP_STATUS');
  assert.match(r.summary, /answered HTTP 401: token \*\*\* is not valid here$/);
  assert.ok(!JSON.stringify(r).includes(TOKEN), 'the token is not in the result');
  const missing = fakeFacts(() => matrix(), {
    secret: async () => { throw new PromoteError('GATE_SECRET_MISSING', 'secret from env PROM_TOKEN is not set', { outcome: 'refused' }); },
  });
  const m = await judge(spec({ bearerTokenFrom: { env: 'PROM_TOKEN' } }), missing.facts);
  assert.equal(m.passed, false);
  assert.equal(m.evidence.code, 'GATE_SECRET_MISSING');
  assert.equal(m.summary, 'no bearer token: secret from env PROM_TOKEN is not set');
  assert.equal(missing.sent.length, 0, 'no request without the token');
});

test('metrics (fake fetch): ${promote.cluster} runs the query once per cluster of the from stage, each value escaped', async () => {
  const { sent, facts } = fakeFacts(({ form }) => (form.get('query')!.includes('dev-1') ? matrix({ metric: { c: '1' }, values: [[t0, '0']] }) : matrix()));
  const r = await judge(spec({ query: "errors{cluster=\"${promote.cluster}\", digest='${promote.digest}'}" }), facts);
  assert.deepEqual(sent.map((s) => s.form.get('query')).sort(), [`errors{cluster="dev-1", digest='${D1}'}`, `errors{cluster="dev-\\"2", digest='${D1}'}`]);
  assert.equal(r.passed, false, 'the cluster with no data refuses the gate');
  assert.equal(r.evidence.code, 'GATE_NO_DATA');
  assert.match(r.summary, /^dev-"2: no data/);
  assert.deepEqual((r.evidence.runs as { cluster: string; samples: number; code?: string }[]).map((x) => [x.cluster, x.samples, x.code]), [['dev-1', 1, undefined], ['dev-"2', 0, 'GATE_NO_DATA']]);
  const once = fakeFacts(() => matrix({ metric: {}, values: [[t0, '0']] }));
  await judge(spec(), once.facts);
  assert.equal(once.sent.length, 1, 'without ${promote.cluster}: one query');
});

test('metrics: placeholders are escaped for the PromQL string they sit in, so a value cannot end the string', () => {
  assert.deepEqual(placeholders('a{x="${promote.stage}"} # ${promote.digest}\n+ b{y=\'${promote.cluster}\'} `${promote.stage}` ${promote.nope}').map((p) => [p.name, p.quote]), [['stage', '"'], ['digest', '#'], ['cluster', "'"], ['stage', '`'], ['nope', undefined]]);
  assert.deepEqual(placeholders('a{x="\\"${promote.stage}"}').map((p) => p.quote), ['"'], 'an escaped quote does not end the string');
  assert.equal(escapePromQLString('a"b\'c\\d\ne', '"'), 'a\\"b\'c\\\\d\\ne');
  assert.equal(escapePromQLString('a"b\'c', "'"), 'a"b\\\'c');
  const evil = 'dev"} or vector(0) or x{a="';
  assert.equal(expandQuery('up{stage="${promote.stage}"}', { stage: evil, cluster: undefined, digest: undefined }), 'up{stage="dev\\"} or vector(0) or x{a=\\""}');
});

test('metrics: a ${…} that names no substitution (${stage}, a spaced ${ promote.nope }) is refused at load, as in an http gate, not sent to Prometheus as written', () => {
  const problems: string[] = [];
  const ok = checkQuery('up{a="${stage}", b="${ promote.nope }", c="${ promote.stage }"}', '/q', (pointer, p) => problems.push(`${pointer}: ${p.message}`));
  assert.equal(ok, false);
  assert.deepEqual(problems, ['/q: unknown substitution ${stage} in the query', '/q: unknown substitution ${ promote.nope } in the query']);
  assert.equal(expandQuery('up{c="${ promote.stage }"}', { stage: 'dev', cluster: undefined, digest: undefined }), 'up{c="dev"}', 'spaces inside the braces are allowed, as in an http gate');
});

test('metrics (fake fetch): series without a single sample are no data, never "all 0 samples pass"', async () => {
  const { facts } = fakeFacts(() => matrix({ metric: { __name__: 'errors', stage: 'dev' }, values: [] }, { metric: { __name__: 'errors', stage: 'dev', pod: 'b' }, values: [] }));
  const r = await judge(spec(), facts);
  assert.equal(r.passed, false, r.summary);
  assert.equal(r.evidence.code, 'GATE_NO_DATA');
  assert.equal(r.summary, "no data: the query's 2 series have no sample over the last 1m");
});

test('metrics: an unknown setting is reported at its own JSON pointer, escaped (a key with / or ~)', () => {
  const problems: string[] = [];
  metricsGate.parse({ prometheus: 'http://prom.test:9090', query: 'up', expect: 'value < 1', for: '1m', 'a/b~c': 1 }, '/g', (pointer, p) => problems.push(`${pointer}: ${p.message}`));
  assert.deepEqual(problems, ['/g/a~1b~0c: unknown metrics setting "a/b~c"']);
});

async function load(t: { after(fn: () => Promise<void>): void }, gates: string) {
  const { file } = await twoStageProject(t, { from: 'dev', to: 'staging' }, gates);
  try {
    return { pipeline: await loadPipeline(file), problems: [] };
  } catch (err) {
    assert.ok(isPromoteError(err, 'PIPELINE_INVALID'), String(err));
    return { problems: err.problems.map((p) => `${p.line} ${p.rule} ${p.pointer}: ${p.message}`) };
  }
}

test('metrics: the loader takes the gate as DESIGN.md writes it, and finds each mistake at its line and pointer', async (t) => {
  const ok = await load(t, '        - soak: 15m\n        - metrics: {prometheus: "http://prometheus:9090", query: \'sum(rate(http_errors_total{stage="${promote.stage}"}[5m]))\', expect: "value < 0.01", bearerTokenFrom: {env: PROM_TOKEN}, timeout: 5s}\n');
  assert.deepEqual(ok.problems, []);
  const gate = ok.pipeline!.stages[1]!.gates[1] as MetricsGateSpec;
  assert.deepEqual(gate, { type: 'metrics', prometheus: 'http://prometheus:9090', query: 'sum(rate(http_errors_total{stage="${promote.stage}"}[5m]))', expect: 'value < 0.01', bearerTokenFrom: { env: 'PROM_TOKEN' }, timeout: '5s', timeoutMs: 5000 });
  assert.equal(metricsGate.title(gate), 'metrics sum(rate(http_errors_total{stage="${promote.stage}"}[5m])) expect value < 0.01');

  const bad = await load(t, [
    '        - metrics: {prometheus: "http://prometheus:9090", query: \'up{x="${promote.stag}"}\', expect: "value < 0.01", for: 1m}',
    '        - metrics: {prometheus: "http://prometheus:9090", query: \'up{stage=${promote.stage}}\', expect: "value <", for: 1m}',
    '        - metrics: {prometheus: "https://u:p@prometheus", query: up, expect: "value < 1", for: 1m}',
    '        - metrics: {prometheus: "http://prometheus:9090", query: up, expect: "x < 1", for: soon}',
    '        - metrics: {prometheus: "http://prometheus:9090", query: up, expect: "value < 1"}',
    '',
  ].join('\n'));
  assert.deepEqual(bad.problems.filter((p) => / \/spec\/stages\/1\/gates\/\d\/metrics/.test(p)).sort(), [
    '13 gate-metrics-query /spec/stages/1/gates/0/metrics/query: unknown substitution ${promote.stag} in the query',
    '14 gate-metrics-expect /spec/stages/1/gates/1/metrics/expect: expect is not valid CEL: found < but expecting end of input',
    '14 gate-metrics-query /spec/stages/1/gates/1/metrics/query: ${promote.stage} must be inside a "…" or \'…\' PromQL string, where its value can be escaped',
    '15 gate-metrics-url /spec/stages/1/gates/2/metrics/prometheus: the prometheus URL carries credentials',
    '16 gate-metrics-expect /spec/stages/1/gates/3/metrics/expect: expect is not valid CEL: unknown variable "x": this expression can use value, labels',
    '16 pattern /spec/stages/1/gates/3/metrics/for: does not match the required pattern',
    '17 gate-metrics-window /spec/stages/1/gates/4/metrics: stage "staging": the metrics gate has no window: it has no for: and the stage no soak gate',
  ].sort());
});

test('metrics: the example in docs/gates.md loads as written', async (t) => {
  const doc = await readFile(new URL('../../../docs/gates.md', import.meta.url), 'utf8');
  const block = /## `metrics`\n\n```yaml\n([^]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/gates.md has a metrics example');
  // The example is a stage: its gates, indented under this file's staging stage.
  const gates = block.split('\n').slice(block.split('\n').findIndex((l) => l.trim() === 'gates:') + 1).map((l) => `    ${l}`).join('\n');
  const { problems, pipeline } = await load(t, gates);
  assert.deepEqual(problems, []);
  const gate = pipeline!.stages[1]!.gates.find((g) => g.type === 'metrics') as MetricsGateSpec;
  assert.equal(gate.prometheus, 'https://prometheus.example:9090');
  assert.equal(gate.expect, 'value < 0.01');
});
