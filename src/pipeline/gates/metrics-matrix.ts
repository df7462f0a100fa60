import type { ErrorCode } from '../../errors.ts';
import { isMap } from '../document-shapes.ts';

// What Prometheus answers a range query with (HTTP API, `resultType: matrix`), read strictly:
// anything else is a refusal with its reason, never an empty result that could pass a gate.
// https://prometheus.io/docs/prometheus/2.42/querying/api/#range-vectors

/** Why an answer cannot be judged, with the code the gate's evidence carries. */
export type Refusal = { code: ErrorCode; error: string };

/** `name{a="b"}` as PromQL writes a series. */
export function seriesName(labels: Record<string, string>): string {
  const { __name__: name = '', ...rest } = labels;
  const pairs = Object.entries(rest).map(([k, v]) => `${k}=${JSON.stringify(v)}`);
  return pairs.length || !name ? `${name}{${pairs.join(', ')}}` : name;
}

export function sampleValue(text: string): number {
  // Prometheus writes sample values as strings: "NaN", "+Inf", "-Inf" or a Go float.
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf' || text === 'Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return text.trim() === '' ? Number.NaN : Number(text);
}

export interface Matrix {
  result: { labels: Record<string, string>; values: [number, string][] }[];
  warnings?: string[];
}

/** The `data` of a range query's answer, or why it is not one. */
export function parseMatrix(body: string): Matrix | Refusal {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    return { code: 'GATE_RESPONSE_INVALID', error: `the answer is not JSON (${snippet(body)})` };
  }
  if (!isMap(doc)) return { code: 'GATE_RESPONSE_INVALID', error: 'the answer is not a JSON object' };
  if (doc.status === 'error') return { code: 'GATE_QUERY_FAILED', error: `Prometheus refused the query: ${prometheusError(doc)}` };
  if (doc.status !== 'success' || !isMap(doc.data)) return { code: 'GATE_RESPONSE_INVALID', error: 'the answer is not a Prometheus API result (no status: success with data)' };
  if (doc.data.resultType !== 'matrix') return { code: 'GATE_RESPONSE_INVALID', error: `the answer is a ${JSON.stringify(doc.data.resultType)}, not the matrix a range query gives` };
  if (!Array.isArray(doc.data.result)) return { code: 'GATE_RESPONSE_INVALID', error: 'the matrix has no result list' };
  const result: Matrix['result'] = [];
  for (const series of doc.data.result) {
    const labels = isMap(series) && isMap(series.metric) ? series.metric : undefined;
    const values = isMap(series) ? series.values : undefined;
    if (!labels || !Object.values(labels).every((v) => typeof v === 'string') || !Array.isArray(values)) {
      return { code: 'GATE_RESPONSE_INVALID', error: 'a series of the matrix is not {metric: {labels}, values: [[time, "value"], …]}' };
    }
    for (const v of values) {
      if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== 'number' || !Number.isFinite(v[0]) || typeof v[1] !== 'string') {
        return { code: 'GATE_RESPONSE_INVALID', error: `a sample of ${seriesName(labels as Record<string, string>)} is not [unix time, "value"]: ${snippet(JSON.stringify(v) ?? '')}` };
      }
    }
    result.push({ labels: labels as Record<string, string>, values: values as [number, string][] });
  }
  const warnings = Array.isArray(doc.warnings) ? doc.warnings.filter((w): w is string => typeof w === 'string') : [];
  return { result, ...(warnings.length && { warnings }) };
}

function prometheusError(doc: Record<string, unknown>): string {
  const type = typeof doc.errorType === 'string' ? `${doc.errorType}: ` : '';
  return `${type}${typeof doc.error === 'string' ? doc.error : '(no error message)'}`;
}

/** A short, printable excerpt of what a server said (its text is not ours to trust). */
export function snippet(text: string): string {
  const flat = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat || '(empty)';
}

export function isRefusal(x: unknown): x is Refusal {
  return isMap(x) && typeof x.code === 'string' && typeof x.error === 'string';
}
