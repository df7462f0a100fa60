import { compileExpression, isSyntaxError, loadCel, type CompiledExpression } from '../../cel/expression.ts';
import { readBudget } from '../../cel/read-budget.ts';
import { isPromoteError, PromoteError } from '../../errors.ts';
import { redact, scrubSecrets } from '../../redact.ts';
import { isMap } from '../document-shapes.ts';
import { parseDuration } from '../duration.ts';
import type { GateContext, GateKind, GateResult, ReportProblem } from '../gate.ts';
import { appendPointer } from '../../params/pointer.ts';
import { checkSettings } from './settings.ts';
import { describeVariables, fillPlaceholders, findPlaceholders, isKnown } from './placeholders.ts';
import { describeSecretRef, parseSecretRef, SECRET_REF_SCHEMA, type SecretRef } from '../secret-ref.ts';

// `http: {url, method?, headers?, bearerTokenFrom?, body?, expect, timeout?, caFile?}`: one
// request to a URL the pipeline names, passing when the CEL expression `expect` over the response
// holds (GitOps Promoter's web-request gate, with CEL as the one expression language, DESIGN.md
// §4b). Everything that goes wrong (no answer, TLS, a missing secret, a CEL error) is a failed
// gate, never a pass. Secret values are read only here, go only into the request, and are
// scrubbed from whatever the gate says; the evidence shows the response's status, type and size,
// never its body (it may echo a credential) nor a header value.
// Size: one kind owns its parser, schema fragment and request (issue 10's extension point), and
// most of the parser is the problems a pipeline author reads.

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export type HttpHeader = { name: string; value: string } | { name: string; secretFrom: SecretRef; prefix?: string };

export interface HttpGateSpec {
  type: 'http';
  /** As written: `${promote.…}` placeholders are filled in (URL-encoded) when the gate runs. */
  url: string;
  method: HttpMethod;
  headers: HttpHeader[];
  bearerTokenFrom?: SecretRef;
  /** A string is sent as written (placeholders filled in); a mapping as JSON. */
  body?: { text: string } | { json: Record<string, unknown> };
  expect: CompiledExpression;
  /** As written, e.g. `10s`. */
  timeout: string;
  timeoutMs: number;
  caFile?: string;
}

const FIELDS = ['url', 'method', 'headers', 'bearerTokenFrom', 'body', 'expect', 'timeout', 'caFile'];
const DEFAULT_TIMEOUT = '10s';
const MAX_TIMEOUT_MS = 5 * 60_000;
/** What `${promote.<name>}` may name, in templates and as the CEL variable `promote`. */
const PROMOTE_VARIABLES = ['stage', 'from', 'digest', 'pipeline'] as const;
type PromoteVariables = Record<(typeof PROMOTE_VARIABLES)[number], string>;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Set by the request itself (gate-fetch), never by a pipeline. */
const MANAGED_HEADERS = ['content-length', 'transfer-encoding', 'connection', 'host'];
/** Headers that carry credentials: a literal value here would be a secret in the pipeline file. */
const CREDENTIAL_HEADERS = ['authorization', 'proxy-authorization', 'cookie'];
const MAX_ERROR_CHARS = 300;
/** Fields of the response `expect` may read: a walk over a whole 1 MiB JSON body is a few hundred thousand. */
const MAX_EXPECT_READS = 1_000_000;

const SAMPLE: PromoteVariables = { stage: 'stage', from: 'from', digest: `sha256:${'0'.repeat(64)}`, pipeline: 'pipeline' };

const fill = (text: string, vars: PromoteVariables, encode: (s: string) => string = (s) => s) => fillPlaceholders(text, findPlaceholders(text), vars, encode);

function fillDeep(value: unknown, vars: PromoteVariables): unknown {
  if (typeof value === 'string') return fill(value, vars);
  if (Array.isArray(value)) return value.map((v) => fillDeep(v, vars));
  if (isMap(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillDeep(v, vars)]));
  return value;
}

/** Reports every `${…}` in `text` that is not `${promote.<variable>}`; true when there is none. */
function checkPlaceholders(text: string, pointer: string, report: ReportProblem): boolean {
  const unknown = findPlaceholders(text).filter((p) => !isKnown(p, PROMOTE_VARIABLES));
  for (const p of unknown) report(pointer, { message: `unknown placeholder ${p.written}`, rule: 'gate-http-template', expected: describeVariables(PROMOTE_VARIABLES), actual: JSON.stringify(p.written) });
  return !unknown.length;
}

function checkPlaceholdersDeep(value: unknown, pointer: string, report: ReportProblem): boolean {
  if (typeof value === 'string') return checkPlaceholders(value, pointer, report);
  const entries: [string, unknown][] = Array.isArray(value) ? value.map((v, i) => [String(i), v]) : isMap(value) ? Object.entries(value) : [];
  return entries.map(([k, v]) => checkPlaceholdersDeep(v, appendPointer(pointer, k), report)).every(Boolean);
}

/** Whether `text` can be sent as (part of) a header value: no control characters (CR/LF would split the request). */
const isHeaderText = (text: string) => !/[\x00-\x08\x0a-\x1f\x7f]/.test(text);

function parseHeaders(raw: unknown, pointer: string, report: ReportProblem): HttpHeader[] | undefined {
  if (raw === undefined) return [];
  if (!isMap(raw)) {
    report(pointer, { message: 'headers is a mapping of header names to values', rule: 'type', expected: '{X-Name: "value", Authorization: {secretFrom: {env: TOKEN}, prefix: "Bearer "}}' });
    return undefined;
  }
  const headers: HttpHeader[] = [];
  const seen = new Set<string>();
  let ok = true;
  for (const [name, value] of Object.entries(raw)) {
    const lower = name.toLowerCase();
    // A problem with a credential header is reported at the headers mapping: printed after
    // `…/Authorization:`, the message's first word would be taken for a credential and redacted.
    const at = CREDENTIAL_HEADERS.includes(lower) ? pointer : appendPointer(pointer, name);
    const bad = (message: string, extra: { expected?: string; hint?: string } = {}) => {
      report(at, { message, rule: 'gate-http-header', ...extra });
      ok = false;
    };
    // Its own rule: the schema finds a bad name too (propertyNames), and says it once is enough.
    if (!HEADER_NAME.test(name)) {
      report(at, { message: `"${name}" is not a header name`, rule: 'gate-http-header-name', expected: 'letters, digits and !#$%&\'*+.^_`|~-' });
      ok = false;
    }
    if (seen.has(lower)) bad(`header ${name} is given twice (header names are case-insensitive)`);
    else if (MANAGED_HEADERS.includes(lower)) bad(`header ${name} is set by the request itself`, { hint: 'remove it' });
    seen.add(lower);
    if (typeof value === 'string') {
      if (CREDENTIAL_HEADERS.includes(lower)) bad(`header ${name} carries a credential, so its value is read from a secret, never written here`, { expected: '{secretFrom: {env: NAME}} or {secretFrom: {file: path}}', hint: 'put the value in an environment variable or a file outside the repository and name it with secretFrom' });
      else if (!isHeaderText(value)) bad(`header ${name} has a control character in its value`);
      else if (!checkPlaceholders(value, at, report)) ok = false;
      else headers.push({ name, value });
      continue;
    }
    if (!isMap(value) || Object.keys(value).some((k) => k !== 'secretFrom' && k !== 'prefix') || value.secretFrom === undefined) {
      bad(`header ${name} is a string, or a secret: {secretFrom: {env: NAME} | {file: path}, prefix?: "Bearer "}`);
      continue;
    }
    const secretFrom = parseSecretRef(value.secretFrom, `${at}/secretFrom`, report);
    const prefix = value.prefix;
    if (prefix !== undefined && (typeof prefix !== 'string' || !isHeaderText(prefix))) {
      report(`${at}/prefix`, { message: 'prefix is the text sent before the secret, e.g. "Bearer "', rule: 'type', expected: 'a string without control characters' });
      ok = false;
    }
    if (!secretFrom) ok = false;
    else headers.push({ name, secretFrom, ...(typeof prefix === 'string' && { prefix }) });
  }
  return ok ? headers : undefined;
}

function parseUrl(raw: unknown, pointer: string, report: ReportProblem): string | undefined {
  if (typeof raw !== 'string' || !raw.trim()) {
    report(pointer, { message: raw === undefined ? 'http needs a url' : 'url must be a string', rule: raw === undefined ? 'required' : 'type', expected: 'an absolute http:// or https:// URL' });
    return undefined;
  }
  const url = raw.trim();
  if (!checkPlaceholders(url, pointer, report)) return undefined;
  let parsed: URL | undefined;
  try {
    parsed = new URL(fill(url, SAMPLE, encodeURIComponent));
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    report(pointer, { message: 'url must be an absolute http:// or https:// URL', rule: 'gate-http-url', expected: 'e.g. https://staging.example/ready', actual: JSON.stringify(redact(url)) });
    return undefined;
  }
  if (parsed.username || parsed.password) {
    report(pointer, { message: 'url carries credentials, which would be a secret in the pipeline file', rule: 'gate-http-url', hint: 'remove them from the URL and use bearerTokenFrom or a header with secretFrom' });
    return undefined;
  }
  return url;
}

function parseExpect(raw: unknown, pointer: string, report: ReportProblem): CompiledExpression | undefined {
  if (typeof raw !== 'string' || !raw.trim()) {
    report(pointer, { message: raw === undefined ? 'http needs expect: a CEL expression over the response that must be true' : 'expect must be a CEL expression (a string)', rule: raw === undefined ? 'required' : 'type', expected: 'e.g. "response.status == 200 && response.json.ok"' });
    return undefined;
  }
  const compiled = compileExpression(raw, ['response', 'promote']);
  if (!isSyntaxError(compiled)) return compiled;
  report(pointer, {
    message: `expect is not a valid CEL expression${compiled.column === undefined ? '' : ` (column ${compiled.column} of the expression)`}: ${compiled.message}`,
    rule: 'gate-http-expect',
    expected: 'CEL over response.status, response.headers, response.body, response.json and promote.stage/from/digest/pipeline',
  });
  return undefined;
}

function parseHttp(raw: unknown, pointer: string, report: ReportProblem): HttpGateSpec | undefined {
  if (!isMap(raw)) {
    report(pointer, { message: 'http takes a mapping', rule: 'gate-http', expected: '{url: https://…, expect: "response.status == 200"}', actual: JSON.stringify(raw) });
    return undefined;
  }
  let ok = checkSettings(raw, 'http', FIELDS, pointer, report);
  const url = parseUrl(raw.url, `${pointer}/url`, report);
  const method = raw.method ?? 'GET';
  if (!(HTTP_METHODS as readonly unknown[]).includes(method)) {
    report(`${pointer}/method`, { message: 'method must be one of the methods a gate sends', rule: 'enum', expected: HTTP_METHODS.join(' | '), actual: JSON.stringify(method) });
    ok = false;
  }
  const headers = parseHeaders(raw.headers, `${pointer}/headers`, report);
  const bearerTokenFrom = raw.bearerTokenFrom === undefined ? undefined : parseSecretRef(raw.bearerTokenFrom, `${pointer}/bearerTokenFrom`, report) ?? null;
  if (bearerTokenFrom && headers?.some((h) => h.name.toLowerCase() === 'authorization')) {
    report(`${pointer}/bearerTokenFrom`, { message: 'bearerTokenFrom and an Authorization header both set Authorization', rule: 'gate-http-header', hint: 'keep one of them' });
    ok = false;
  }
  let body: HttpGateSpec['body'];
  if (raw.body !== undefined) {
    if (typeof raw.body === 'string') body = { text: raw.body };
    else if (isMap(raw.body)) body = { json: raw.body };
    else {
      report(`${pointer}/body`, { message: 'body is a string (sent as written) or a mapping (sent as JSON)', rule: 'type', expected: 'string or mapping' });
      ok = false;
    }
    if (body && !checkPlaceholdersDeep(raw.body, `${pointer}/body`, report)) ok = false;
    if (body && method === 'HEAD') {
      report(`${pointer}/body`, { message: 'a HEAD request has no body', rule: 'gate-http', hint: 'use POST, PUT or PATCH, or remove body' });
      ok = false;
    }
  }
  const expect = parseExpect(raw.expect, `${pointer}/expect`, report);
  const timeout = raw.timeout ?? DEFAULT_TIMEOUT;
  const timeoutMs = typeof timeout === 'string' ? parseDuration(timeout) : undefined;
  if (timeoutMs === undefined || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS) {
    report(`${pointer}/timeout`, { message: 'timeout is how long the whole request may take', rule: 'gate-http-timeout', expected: 'a positive duration up to 5m, e.g. 10s', actual: JSON.stringify(timeout) });
    ok = false;
  }
  const caFile = raw.caFile;
  if (caFile !== undefined && (typeof caFile !== 'string' || !caFile.trim())) {
    report(`${pointer}/caFile`, { message: 'caFile is the PEM file of the CA that signs the server\'s certificate', rule: 'type', expected: 'a path relative to the project root' });
    ok = false;
  } else if (caFile !== undefined && url && !/^https:/i.test(url)) {
    report(`${pointer}/caFile`, { message: 'caFile is for https URLs', rule: 'gate-http-url', hint: 'use an https:// URL, or remove caFile' });
    ok = false;
  }
  if (!ok || !url || !headers || bearerTokenFrom === null || !expect || timeoutMs === undefined) return undefined;
  return {
    type: 'http',
    url,
    method: method as HttpMethod,
    headers,
    ...(bearerTokenFrom && { bearerTokenFrom }),
    ...(body && { body }),
    expect,
    timeout: String(timeout).trim(),
    timeoutMs,
    ...(typeof caFile === 'string' && { caFile: caFile.trim() }),
  };
}

const kindOf = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'a map' : `a ${typeof v}`);

async function evaluateHttp(spec: HttpGateSpec, ctx: GateContext<'fetch' | 'secret'>): Promise<GateResult> {
  const gate = httpGate.title(spec);
  const vars: PromoteVariables = { stage: ctx.stage, from: ctx.from ?? '', digest: ctx.candidate, pipeline: ctx.pipeline };
  const url = fill(spec.url, vars, encodeURIComponent);
  // The title names the URL as written; where placeholders were filled in, the findings name the one requested.
  const requested = url === spec.url ? [] : [`request: ${spec.method} ${redact(url)}`];
  const secrets: string[] = [];
  const evidence: Record<string, unknown> = {
    method: spec.method,
    url: redact(url),
    ...(spec.headers.length && { headers: Object.fromEntries(spec.headers.map((h) => [h.name, 'secretFrom' in h ? `secret from ${describeSecretRef(h.secretFrom)}` : 'as written'])) }),
    ...(spec.bearerTokenFrom && { bearerTokenFrom: describeSecretRef(spec.bearerTokenFrom) }),
    expect: spec.expect.source,
  };
  // The title and type come from the pipeline file; what the request and the response gave is scrubbed.
  const done = (passed: boolean, summary: string, extra: Record<string, unknown>): GateResult =>
    ({ gate, type: 'http', passed, summary: scrubSecrets(summary, secrets), evidence: scrubSecrets({ ...evidence, ...extra }, secrets) });

  const headers: Record<string, string> = {};
  const secret = async (ref: SecretRef): Promise<string> => {
    const value = await ctx.secret(ref);
    secrets.push(value);
    if (!isHeaderText(value)) throw new PromoteError('GATE_SECRET_MISSING', `the secret from ${describeSecretRef(ref)} has a control character (a line break?), so it cannot be sent in a header`, { outcome: 'refused' });
    return value;
  };
  let response: Awaited<ReturnType<typeof ctx.fetch>>;
  let elapsedMs: number;
  let sent = false;
  try {
    for (const h of spec.headers) headers[h.name] = 'secretFrom' in h ? `${h.prefix ?? ''}${await secret(h.secretFrom)}` : fill(h.value, vars);
    if (spec.bearerTokenFrom) headers.Authorization = `Bearer ${await secret(spec.bearerTokenFrom)}`;
    let body: string | undefined;
    if (spec.body && 'text' in spec.body) body = fill(spec.body.text, vars);
    else if (spec.body) {
      body = JSON.stringify(fillDeep(spec.body.json, vars));
      if (!Object.keys(headers).some((n) => n.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
    }
    const started = performance.now();
    sent = true;
    response = await ctx.fetch(url, { method: spec.method, headers, ...(body !== undefined && { body }), timeoutMs: spec.timeoutMs, ...(spec.caFile && { caFile: spec.caFile }) });
    elapsedMs = Math.round(performance.now() - started);
  } catch (err) {
    const message = redact(err instanceof Error ? err.message : String(err)).slice(0, MAX_ERROR_CHARS);
    const hint = isPromoteError(err) && err.hint ? { hint: redact(err.hint) } : {};
    return done(false, sent ? message : `not sent: ${message}`, { code: isPromoteError(err) ? err.code : 'GATE_UNREACHABLE', error: message, ...hint, verdict: 'not evaluated' });
  }
  let json: unknown = null;
  let bodyIsJson = false;
  try {
    json = JSON.parse(response.body);
    bodyIsJson = true;
  } catch {
    // Not JSON: response.json is null, and an expression that reads it fails.
  }
  const contentType = response.headers['content-type'];
  const answered = { status: response.status, ...(contentType && { contentType }), bytes: Buffer.byteLength(response.body), bodyIsJson, elapsedMs };
  const facts = `${response.status}${contentType ? `, ${contentType}` : ''}, ${answered.bytes} bytes${bodyIsJson ? ' of JSON' : ''}, ${elapsedMs} ms`;
  // The answer is the server's: a nested comprehension over a list it sends is bounded (cel/read-budget.ts).
  const budget = readBudget(MAX_EXPECT_READS);
  const result = spec.expect.evaluate({ response: budget.meter({ status: BigInt(response.status), headers: response.headers, body: response.body, json }), promote: vars });
  // A value that is not a bool is named by its type only: showing it could show the body.
  const error = !result.ok ? result.error.slice(0, MAX_ERROR_CHARS) : typeof result.value !== 'boolean' ? `the expression gave ${kindOf(result.value)}, not true or false` : undefined;
  if (error !== undefined) {
    const notJson = !bodyIsJson && /\bjson\b/.test(spec.expect.source);
    const why = notJson ? ` (the body is not JSON, so response.json is null)` : '';
    return done(false, `answered ${response.status}; expect failed: ${error}${why}`, {
      ...answered,
      verdict: 'error',
      error,
      ...(notJson ? { code: 'GATE_RESPONSE_INVALID' } : budget.spent() && { code: 'GATE_EXPRESSION_ERROR' }),
      findings: [...requested, `response: ${facts}`, `expect: ${spec.expect.source} → error: ${error}${why}`],
    });
  }
  const passed = result.ok && result.value === true;
  const summary = passed ? `answered ${response.status}; expect holds` : `answered ${response.status}; expect is false: ${spec.expect.source}`;
  return done(passed, summary, { ...answered, verdict: passed, findings: [...requested, `response: ${facts}`, `expect: ${spec.expect.source} → ${passed}`] });
}

export const httpGate: GateKind<HttpGateSpec, 'fetch' | 'secret'> = {
  type: 'http',
  schema: {
    type: 'object',
    required: ['url', 'expect'],
    additionalProperties: false,
    properties: {
      url: { type: 'string', pattern: '^[Hh][Tt][Tt][Pp][Ss]?://', description: 'The URL requested; ${promote.stage}, ${promote.from}, ${promote.digest} and ${promote.pipeline} are filled in (URL-encoded). No redirect is followed.' },
      method: { enum: [...HTTP_METHODS], default: 'GET' },
      headers: {
        type: 'object',
        propertyNames: { pattern: HEADER_NAME.source },
        additionalProperties: {
          oneOf: [
            { type: 'string', description: 'Sent as written (${promote.…} filled in); not for credentials.' },
            { type: 'object', required: ['secretFrom'], additionalProperties: false, properties: { secretFrom: SECRET_REF_SCHEMA, prefix: { type: 'string', description: 'Sent before the secret, e.g. "Bearer ".' } } },
          ],
        },
      },
      bearerTokenFrom: { ...SECRET_REF_SCHEMA, description: 'Sends Authorization: Bearer <the secret>.' },
      body: { type: ['string', 'object'], description: 'A string is sent as written; a mapping as JSON (Content-Type: application/json). ${promote.…} is filled in.' },
      expect: { type: 'string', minLength: 1, description: 'A CEL expression that must be true: response.status, response.headers (lower-case names), response.body, response.json (null when the body is not JSON), promote.stage/from/digest/pipeline.' },
      timeout: { $ref: '#/$defs/duration', default: DEFAULT_TIMEOUT, description: 'The whole request, connect to last byte (at most 5m).' },
      caFile: { type: 'string', minLength: 1, description: "PEM file (relative to the project root) of the CA that signs the server's certificate." },
    },
  },
  facts: ['fetch', 'secret'],
  beyondSchema: ['gate-http-expect', 'gate-http-template', 'gate-http-url', 'gate-http-header', 'gate-http-timeout'],
  prepare: loadCel,
  parse: parseHttp,
  title: (spec) => `http ${spec.method} ${redact(spec.url)}`,
  evaluate: evaluateHttp,
};
