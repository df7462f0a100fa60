import { compileExpression, isSyntaxError, loadCel, type CompiledExpression } from '../../cel/expression.ts';
import { readBudget } from '../../cel/read-budget.ts';
import { isPromoteError, type ErrorCode } from '../../errors.ts';
import { redact, scrubSecrets } from '../../redact.ts';
import { formatDuration, parseDuration } from '../duration.ts';
import type { GateContext, GateKind, GateResult, ReportProblem, SecretRef } from '../gate.ts';
import { isMap } from '../document-shapes.ts';
import { parseSecretRef, SECRET_REF_SCHEMA } from '../secret-ref.ts';
import { isRefusal, parseMatrix, sampleValue, seriesName, snippet, type Matrix, type Refusal } from './metrics-matrix.ts';
import { checkSettings } from './settings.ts';
import { checkQuery, expandQuery, usesCluster } from './metrics-query.ts';

// `metrics: {prometheus, query, expect: "value < 0.01", for?: 10m}`: how the candidate behaved
// where it runs now (the `from` stage), asked of Prometheus as a range query over a window, the
// gate's own `for:` or else the stage's soak. Every sample of every series must pass `expect`,
// not the latest instant: an error spike that recovered a minute ago still refuses the digest.
// No data is a refusal, never a pass: a query that matches nothing (a renamed metric, a label
// typo) proves nothing. Prometheus HTTP API:
// https://prometheus.io/docs/prometheus/2.42/querying/api/#range-queries
// Size: the kind's parser, schema, request and verdict in one file, as for every kind; the query
// placeholders (metrics-query.ts) and the answer's format (metrics-matrix.ts) live apart.

export interface MetricsGateSpec {
  type: 'metrics';
  /** Base URL of the Prometheus HTTP API, e.g. `http://prometheus:9090` (a path prefix is kept). */
  prometheus: string;
  /** PromQL as written, with its `${promote.*}` placeholders. */
  query: string;
  /** CEL over `value` (a sample, double) and `labels` (its series' labels). */
  expect: string;
  /** The gate's own window, as written and in ms; absent: the stage's soak. */
  for?: string;
  forMs?: number;
  step?: string;
  stepMs?: number;
  bearerTokenFrom?: SecretRef;
  caFile?: string;
  timeout: string;
  timeoutMs: number;
}

const KEYS = ['prometheus', 'query', 'expect', 'for', 'step', 'bearerTokenFrom', 'caFile', 'timeout'];
/** About this many samples per series at most, when the gate names no step; never below 1s. */
const TARGET_SAMPLES = 250;
const DEFAULT_TIMEOUT = '10s';
/** A range query over many series is larger than the 1 MiB a gate reads by default. */
const MAX_BYTES = 8 * 1024 * 1024;
/** Label reads `expect` may make over all samples of a gate: a few per sample of a full 8 MiB answer. */
const MAX_EXPECT_READS = 5_000_000;
/** Failing samples kept in evidence and printed: the count says how many there were. */
const FAILING_SHOWN = 10;

// ---- parsing the gate ----------------------------------------------------------------------

function parseDurationField(raw: unknown, pointer: string, report: ReportProblem): { text: string; ms: number } | undefined | false {
  if (raw === undefined) return undefined;
  const ms = typeof raw === 'string' ? parseDuration(raw) : undefined;
  if (ms === undefined || ms <= 0) {
    report(pointer, { message: 'a positive duration is needed here', rule: 'gate-metrics-duration', expected: 'a duration such as 30s, 15m or 1h', actual: JSON.stringify(raw) });
    return false;
  }
  return { text: (raw as string).trim(), ms };
}

function parsePrometheusUrl(raw: unknown, pointer: string, report: ReportProblem): string | undefined {
  let url: URL | undefined;
  try {
    if (typeof raw === 'string') url = new URL(raw);
  } catch {
    /* reported below */
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    report(pointer, { message: 'prometheus is the http(s) URL of the Prometheus HTTP API', rule: 'gate-metrics-url', expected: 'e.g. http://prometheus:9090', actual: JSON.stringify(typeof raw === 'string' ? redact(raw) : raw) });
    return undefined;
  }
  if (url.username || url.password) {
    // A pipeline is committed: a credential written in it is a leaked credential.
    report(pointer, { message: 'the prometheus URL carries credentials', rule: 'gate-metrics-url', hint: 'remove them from the URL and name a token with bearerTokenFrom: {env: NAME} or {file: path}' });
    return undefined;
  }
  if (url.search || url.hash) {
    report(pointer, { message: 'the prometheus URL is the API base, without a query or fragment', rule: 'gate-metrics-url', expected: 'e.g. https://metrics.example/prometheus' });
    return undefined;
  }
  return (raw as string).trim().replace(/\/+$/, '');
}

const compiled = new Map<string, CompiledExpression>();

/** `expect` compiled (the CEL library is loaded: prepare, or evaluate before it compiles). */
function compileExpect(source: string): CompiledExpression | { message: string; column?: number } {
  let c = compiled.get(source);
  if (!c) {
    const r = compileExpression(source, ['value', 'labels']);
    if (isSyntaxError(r)) return r;
    compiled.set(source, (c = r));
  }
  return c;
}

// ---- the verdict ---------------------------------------------------------------------------

interface Sample {
  at: string;
  value: number;
  labels: Record<string, string>;
  cluster?: string;
}

interface FailingSample {
  at: string;
  /** As Prometheus wrote it (`NaN`, `+Inf` stay readable in JSON). */
  value: string;
  labels: Record<string, string>;
  cluster?: string;
  why?: string;
}

/** One query as sent (one per cluster of the from stage when the query names the cluster). */
interface Run {
  cluster?: string;
  query: string;
  series: number;
  samples: number;
  failing: number;
  code?: ErrorCode;
  error?: string;
  warnings?: string[];
}

/** Which end of the values the expression is sensitive to: `value < x` fails high, `value > x` low. */
export function worstDirection(expect: string): 'max' | 'min' | undefined {
  const s = expect.trim();
  const left = /^value\s*(<=|>=|<|>)\s*[^&|?<>=!]+$/.exec(s);
  if (left) return left[1]!.startsWith('<') ? 'max' : 'min';
  const right = /^[^&|?<>=!]+?\s*(<=|>=|<|>)\s*value$/.exec(s);
  if (right) return right[1]!.startsWith('<') ? 'min' : 'max';
  return undefined;
}

/** Unix seconds with milliseconds, as the API takes them. */
function unixSeconds(ms: number): string {
  return (ms / 1000).toFixed(3);
}

/** The default step: at most about TARGET_SAMPLES samples per series, in whole seconds, at least 1s. */
export function defaultStepMs(windowMs: number): number {
  return Math.max(1000, Math.ceil(windowMs / TARGET_SAMPLES / 1000) * 1000);
}

function rangeUrl(base: string): string {
  return `${base}/api/v1/query_range`;
}

async function runQuery(spec: MetricsGateSpec, ctx: GateContext<'fetch' | 'secret' | 'upstreamReports'>, query: string, window: { startMs: number; endMs: number; stepMs: number }, token: string | undefined): Promise<Matrix | Refusal> {
  // POST with a form body, as the API allows: a long query does not meet URL limits, and it stays out of access logs.
  const form = new URLSearchParams({
    query,
    start: unixSeconds(window.startMs),
    end: unixSeconds(window.endMs),
    // Seconds as a float: the API's other duration form takes no fractions (a step of 1.5s).
    step: String(window.stepMs / 1000),
    timeout: String(spec.timeoutMs / 1000),
  });
  let response;
  try {
    response = await ctx.fetch(rangeUrl(spec.prometheus), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...(token !== undefined && { authorization: `Bearer ${token}` }) },
      body: form.toString(),
      timeoutMs: spec.timeoutMs,
      maxBytes: MAX_BYTES,
      ...(spec.caFile && { caFile: spec.caFile }),
    });
  } catch (err) {
    if (isPromoteError(err)) return { code: err.code, error: redact(err.message) };
    throw err;
  }
  if (response.status !== 200) {
    // Prometheus answers a bad query with 400/422 and `status: error`: its message is the point.
    const parsed = parseMatrix(response.body);
    if (isRefusal(parsed) && parsed.code === 'GATE_QUERY_FAILED') return { code: parsed.code, error: redact(`${parsed.error} (HTTP ${response.status})`) };
    return { code: 'GATE_HTTP_STATUS', error: redact(`${rangeUrl(spec.prometheus)} answered HTTP ${response.status}: ${snippet(response.body)}`) };
  }
  const answer = parseMatrix(response.body);
  // What the server says goes into evidence and messages: through redact like every outside text.
  return isRefusal(answer) ? { code: answer.code, error: redact(answer.error) } : answer;
}

function windowOf(spec: MetricsGateSpec, ctx: { soakMs?: number }): { ms: number; text: string; source: 'for' | 'soak' } | undefined {
  if (spec.forMs !== undefined) return { ms: spec.forMs, text: spec.for!, source: 'for' };
  if (ctx.soakMs !== undefined) return { ms: ctx.soakMs, text: formatDuration(ctx.soakMs), source: 'soak' };
  return undefined;
}

function titleQuery(query: string): string {
  const flat = query.replace(/\s+/g, ' ').trim();
  return flat.length > 80 ? `${flat.slice(0, 79)}…` : flat;
}

function sampleLine(s: { at: string; value: string | number; labels: Record<string, string>; cluster?: string; why?: string }): string {
  return `${s.at}  ${s.value}  ${seriesName(s.labels)}${s.cluster ? ` (${s.cluster})` : ''}${s.why ? `: ${s.why}` : ''}`;
}

function worstText(w: Sample | undefined): string {
  return w ? `${w.value} at ${w.at} ${seriesName(w.labels)}${w.cluster ? ` (${w.cluster})` : ''}` : '(none)';
}

export const metricsGate: GateKind<MetricsGateSpec, 'fetch' | 'secret' | 'upstreamReports'> = {
  type: 'metrics',
  schema: {
    type: 'object',
    required: ['prometheus', 'query', 'expect'],
    additionalProperties: false,
    description: 'A PromQL range query over the `from` stage; every sample in the window must pass `expect`.',
    properties: {
      prometheus: { type: 'string', pattern: '^https?://', description: 'Base URL of the Prometheus HTTP API, e.g. http://prometheus:9090.' },
      query: { type: 'string', minLength: 1, description: 'PromQL; ${promote.stage}, ${promote.cluster} and ${promote.digest} inside its strings are replaced (escaped).' },
      expect: { type: 'string', minLength: 1, description: 'CEL over value (each sample, a double) and labels (its series\' labels), e.g. "value < 0.01".' },
      for: { $ref: '#/$defs/duration', description: 'The window judged, ending now; default: the stage\'s soak.' },
      step: { $ref: '#/$defs/duration', description: 'Resolution of the range query; default: the window / 250, at least 1s.' },
      bearerTokenFrom: SECRET_REF_SCHEMA,
      caFile: { type: 'string', minLength: 1, description: 'PEM file (relative to the project root) of the CA that signs the server\'s certificate.' },
      timeout: { $ref: '#/$defs/duration', default: DEFAULT_TIMEOUT, description: 'For the whole request.' },
    },
  },
  facts: ['fetch', 'secret', 'upstreamReports'],
  upstream: { judges: 'measure' },
  beyondSchema: ['gate-metrics-expect', 'gate-metrics-query', 'gate-metrics-url', 'gate-metrics-window'],
  prepare: loadCel,
  parse(raw, pointer, report) {
    if (!isMap(raw)) {
      report(pointer, { message: 'metrics takes a mapping', rule: 'gate-metrics', expected: '{prometheus: URL, query: PromQL, expect: "value < 0.01", for?: 10m}', actual: JSON.stringify(raw) });
      return undefined;
    }
    let ok = checkSettings(raw, 'metrics', KEYS, pointer, report);
    for (const key of ['prometheus', 'query', 'expect']) {
      if (typeof raw[key] !== 'string' || !(raw[key] as string).trim()) {
        report(`${pointer}/${key}`, { message: `metrics needs ${key}`, rule: 'required', expected: 'a non-empty string' });
        ok = false;
      }
    }
    const prometheus = typeof raw.prometheus === 'string' ? parsePrometheusUrl(raw.prometheus, `${pointer}/prometheus`, report) : undefined;
    if (typeof raw.prometheus === 'string' && !prometheus) ok = false;
    const query = typeof raw.query === 'string' ? raw.query : '';
    if (query && !checkQuery(query, `${pointer}/query`, report)) ok = false;
    const expect = typeof raw.expect === 'string' ? raw.expect.trim() : '';
    if (expect) {
      const c = compileExpect(expect);
      if (isSyntaxError(c)) {
        report(`${pointer}/expect`, { message: `expect is not valid CEL: ${c.message}`, rule: 'gate-metrics-expect', expected: 'CEL over value and labels, e.g. "value < 0.01"', actual: JSON.stringify(expect), ...(c.column !== undefined && { hint: `at column ${c.column}` }) });
        ok = false;
      }
    }
    const durations: Record<string, { text: string; ms: number } | undefined> = {};
    for (const key of ['for', 'step', 'timeout']) {
      const d = parseDurationField(raw[key], `${pointer}/${key}`, report);
      if (d === false) ok = false;
      else durations[key] = d;
    }
    let bearerTokenFrom: SecretRef | undefined;
    if (raw.bearerTokenFrom !== undefined) {
      bearerTokenFrom = parseSecretRef(raw.bearerTokenFrom, `${pointer}/bearerTokenFrom`, report);
      if (!bearerTokenFrom) ok = false;
    }
    if (raw.caFile !== undefined && (typeof raw.caFile !== 'string' || !raw.caFile.trim())) {
      report(`${pointer}/caFile`, { message: 'caFile is the path of a PEM file', rule: 'type', expected: 'a path relative to the project root' });
      ok = false;
    }
    if (!ok || !prometheus) return undefined;
    const { for: window, step, timeout } = durations;
    return {
      type: 'metrics',
      prometheus,
      query,
      expect,
      ...(window && { for: window.text, forMs: window.ms }),
      ...(step && { step: step.text, stepMs: step.ms }),
      ...(bearerTokenFrom && { bearerTokenFrom }),
      ...(typeof raw.caFile === 'string' && { caFile: raw.caFile.trim() }),
      timeout: timeout?.text ?? DEFAULT_TIMEOUT,
      timeoutMs: timeout?.ms ?? parseDuration(DEFAULT_TIMEOUT)!,
    };
  },
  check(spec, { stage, gates }, pointer, report) {
    if (spec.forMs !== undefined || gates.some((g) => g.type === 'soak')) return;
    report(pointer, {
      message: `stage "${stage}": the metrics gate has no window: it has no for: and the stage no soak gate`,
      rule: 'gate-metrics-window',
      hint: 'add for: <duration> to the gate (e.g. for: 10m), or a soak: <duration> gate to the stage',
    });
  },
  title: (spec) => `metrics ${titleQuery(spec.query)} expect ${spec.expect}${spec.for ? ` for ${spec.for}` : ''}`,
  async evaluate(spec, ctx) {
    // A server may echo the token back (a proxy's 401 page): nothing it said may carry it on.
    const secrets: string[] = [];
    const result = await evaluateMetrics(spec, ctx, secrets);
    return { ...result, summary: scrubSecrets(result.summary, secrets), evidence: scrubSecrets(result.evidence, secrets) };
  },
};

async function evaluateMetrics(spec: MetricsGateSpec, ctx: GateContext<'fetch' | 'secret' | 'upstreamReports'>, secrets: string[]): Promise<GateResult> {
  const gate = metricsGate.title(spec);
  const window = windowOf(spec, ctx);
  const base = { prometheus: redact(spec.prometheus), expect: spec.expect };
  const refuse = (code: ErrorCode, summary: string, evidence: Record<string, unknown> = {}): GateResult => ({ gate, type: 'metrics', passed: false, summary, evidence: { ...base, ...evidence, code } });
  if (!window) return refuse('PIPELINE_INVALID', 'no window to judge: the gate has no for: and the stage no soak gate');
  await loadCel();
  const expect = compileExpect(spec.expect);
  if (isSyntaxError(expect)) return refuse('GATE_EXPRESSION_ERROR', `expect is not valid CEL: ${expect.message}`);
  const endMs = ctx.now.getTime();
  const startMs = endMs - window.ms;
  const stepMs = spec.stepMs ?? defaultStepMs(window.ms);
  const windowEvidence = { from: new Date(startMs).toISOString(), to: new Date(endMs).toISOString(), duration: window.text, source: window.source, step: spec.step ?? formatDuration(stepMs) };
  const over = `over the last ${window.text}${window.source === 'soak' ? ' (the soak)' : ''}`;

  let token: string | undefined;
  if (spec.bearerTokenFrom) {
    try {
      token = await ctx.secret(spec.bearerTokenFrom);
      secrets.push(token);
    } catch (err) {
      if (!isPromoteError(err)) throw err;
      return refuse(err.code, `no bearer token: ${err.message}`, { window: windowEvidence });
    }
  }
  let clusters: (string | undefined)[] = [undefined];
  if (usesCluster(spec.query)) {
    try {
      clusters = (await ctx.upstreamReports()).clusters;
    } catch (err) {
      if (!isPromoteError(err)) throw err;
      return refuse(err.code, `cannot list the clusters of ${ctx.from}: ${redact(err.message)}`, { window: windowEvidence });
    }
    if (!clusters.length) return refuse('GATE_NO_DATA', `stage ${ctx.from} has no clusters to query`, { window: windowEvidence });
  }

  const answers = await Promise.all(clusters.map(async (cluster) => {
    const query = expandQuery(spec.query, { stage: ctx.from, cluster, digest: ctx.candidate });
    return { cluster, query, answer: await runQuery(spec, ctx, query, { startMs, endMs, stepMs }, token) };
  }));

  // Labels are the server's: `expect` reads them within one budget for the gate (cel/read-budget.ts).
  const budget = readBudget(MAX_EXPECT_READS);
  const runs: Run[] = [];
  const failing: FailingSample[] = [];
  let failingCount = 0;
  let samples = 0;
  let series = 0;
  let nonFinite = 0;
  let min: Sample | undefined;
  let max: Sample | undefined;
  let refusal: (Refusal & { cluster?: string }) | undefined;
  for (const { cluster, query, answer } of answers) {
    const run: Run = { ...(cluster !== undefined && { cluster }), query, series: 0, samples: 0, failing: 0 };
    runs.push(run);
    if (isRefusal(answer)) {
      Object.assign(run, answer);
      refusal ??= { ...answer, ...(cluster !== undefined && { cluster }) };
      continue;
    }
    if (answer.warnings) run.warnings = answer.warnings;
    if (!answer.result.length) {
      const error = `no data: the query matched no series ${over}`;
      Object.assign(run, { code: 'GATE_NO_DATA', error });
      refusal ??= { code: 'GATE_NO_DATA', error, ...(cluster !== undefined && { cluster }) };
      continue;
    }
    run.series = answer.result.length;
    for (const { labels, values } of answer.result) {
      for (const [time, text] of values) {
        run.samples++;
        const at = new Date(Math.round(time * 1000)).toISOString();
        const value = sampleValue(text);
        const where = { at, labels, ...(cluster !== undefined && { cluster }) };
        let why: string | undefined;
        if (!Number.isFinite(value)) {
          // NaN compares false with everything, so `!(value > x)` would pass it: judged here, not by CEL.
          nonFinite++;
          why = `${text} is not a number a threshold can judge`;
        } else {
          const sample = { ...where, value };
          if (!min || value < min.value) min = sample;
          if (!max || value > max.value) max = sample;
          const verdict = expect.test({ value, labels: budget.meter(labels) });
          if (!verdict.ok) {
            const error = `expect failed on ${sampleLine({ ...where, value })}: ${verdict.error}`;
            Object.assign(run, { code: 'GATE_EXPRESSION_ERROR', error });
            refusal ??= { code: 'GATE_EXPRESSION_ERROR', error, ...(cluster !== undefined && { cluster }) };
            break;
          }
          if (verdict.value) continue;
        }
        run.failing++;
        failingCount++;
        if (failing.length < FAILING_SHOWN) failing.push({ ...where, value: text, ...(why && { why }) });
      }
      if (run.code) break;
    }
    if (!run.code && run.samples === 0) {
      // Series without a sample (Prometheus never answers so; a proxy or another server might) are no data too.
      const error = `no data: the query's ${run.series} series have no sample ${over}`;
      Object.assign(run, { code: 'GATE_NO_DATA', error });
      refusal ??= { code: 'GATE_NO_DATA', error, ...(cluster !== undefined && { cluster }) };
    }
    series += run.series;
    samples += run.samples;
  }

  const direction = worstDirection(spec.expect);
  const worst = direction === 'max' ? max : direction === 'min' ? min : undefined;
  const findings = [
    ...runs.map((r) => `${r.cluster ? `${r.cluster}: ` : ''}${r.series} series, ${r.samples} samples of ${r.query}`),
    `window ${windowEvidence.from} → ${windowEvidence.to} (${window.text}${window.source === 'soak' ? ', the stage\'s soak' : ''}), step ${windowEvidence.step}`,
    ...(worst ? [`worst ${worstText(worst)}`] : min ? [`min ${worstText(min)}`, `max ${worstText(max)}`] : []),
    ...failing.map((f) => `fails ${sampleLine(f)}`),
    ...(failingCount > failing.length ? [`… and ${failingCount - failing.length} more failing samples`] : []),
  ];
  const evidence: Record<string, unknown> = {
    ...base,
    query: clusters.length === 1 && clusters[0] === undefined ? runs[0]!.query : spec.query,
    runs,
    window: windowEvidence,
    series,
    samples,
    ...(worst && { worst, worstIs: direction }),
    ...(!worst && min && { min, max }),
    ...(nonFinite && { nonFinite }),
    failingSamples: failingCount,
    failing,
  };
  if (refusal) {
    const summary = `${refusal.cluster ? `${refusal.cluster}: ` : ''}${refusal.error}`;
    return { gate, type: 'metrics', passed: false, summary, evidence: { ...evidence, code: refusal.code, findings } };
  }
  const clustersText = clusters[0] === undefined ? '' : ` in ${clusters.length} cluster${clusters.length === 1 ? '' : 's'} of ${ctx.from}`;
  const worstShort = worst ? ` (worst ${worst.value})` : min ? ` (min ${min.value}, max ${max!.value})` : '';
  if (failingCount) {
    const first = failing[0]!;
    const summary = `${failingCount} of ${samples} samples fail ${spec.expect} ${over}${clustersText}${worst ? `, worst ${worstText(worst)}` : `, first ${sampleLine(first)}`}`;
    return { gate, type: 'metrics', passed: false, summary, evidence: { ...evidence, findings } };
  }
  const summary = `all ${samples} samples of ${series} series pass ${spec.expect} ${over}${clustersText}${worstShort}`;
  return { gate, type: 'metrics', passed: true, summary, evidence: { ...evidence, findings } };
}
