import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PromoteError } from '../../../src/errors.ts';
import type { GateContext, GateRequest, GateResponse, SecretRef } from '../../../src/pipeline/gate.ts';
import { httpGate, type HttpGateSpec } from '../../../src/pipeline/gates/http.ts';

// The http gate's parser and its binding of the response to CEL, with an in-process fake fetch
// and fake secrets (plain data). The same gate against real servers: test/promotion/http-gate*.

const D1 = `sha256:${'1'.repeat(64)}`;
const TOKEN = 'tok-3f9a1c77e2b04d5e8a6b';
const API_KEY = 'key-a81d0f3b5c6e47a9';

before(async () => {
  await httpGate.prepare!();
});

interface Problem { pointer: string; message: string; rule?: string; hint?: string }

function parse(raw: unknown): { spec?: HttpGateSpec; problems: Problem[] } {
  const problems: Problem[] = [];
  const spec = httpGate.parse(raw, '/g/http', (pointer, p) => problems.push({ pointer, ...p }));
  return { ...(spec && { spec }), problems };
}

function spec(raw: Record<string, unknown>): HttpGateSpec {
  const r = parse(raw);
  assert.deepEqual(r.problems, []);
  return r.spec!;
}

/** A fake fetch answering `answer` and recording each request; fake secrets from a map. */
function fakeContext(answer: GateResponse | (() => never), secrets: Record<string, string> = {}, over: Partial<GateContext> = {}) {
  const requests: { url: string; request: GateRequest }[] = [];
  const ctx = {
    pipeline: 'webapp', stage: 'staging', from: 'dev', candidate: D1, now: new Date(), promoter: 'Pat <pat@example.com>',
    ...over,
    fetch: async (url: string, request: GateRequest) => {
      requests.push({ url, request });
      return typeof answer === 'function' ? answer() : answer;
    },
    secret: async (ref: SecretRef) => {
      const name = 'env' in ref ? ref.env : ref.file;
      if (!(name in secrets)) throw new PromoteError('GATE_SECRET_MISSING', `secret from env ${name} is not set`, { outcome: 'refused' });
      return secrets[name]!;
    },
  } as GateContext<'fetch' | 'secret'>;
  return { ctx, requests };
}

const json = (status: number, body: unknown): GateResponse => ({ status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

test('http gate (fake fetch): parses every field, with the defaults (GET, 10s, no headers)', () => {
  const s = spec({ url: 'https://staging.example/ready', expect: 'response.status == 200' });
  assert.deepEqual({ ...s, expect: s.expect.source }, { type: 'http', url: 'https://staging.example/ready', method: 'GET', headers: [], expect: 'response.status == 200', timeout: '10s', timeoutMs: 10_000 });
  assert.equal(httpGate.title(s), 'http GET https://staging.example/ready');
  const full = spec({
    url: 'https://api.example/v1/checks/${promote.stage}', method: 'POST', timeout: '3s', caFile: 'certs/ca.pem',
    headers: { 'X-Api-Key': { secretFrom: { env: 'API_KEY' } }, 'X-Digest': '${promote.digest}' },
    bearerTokenFrom: { file: 'secrets/token' }, body: { digest: '${promote.digest}' },
    expect: 'response.json.ok',
  });
  assert.equal(full.method, 'POST');
  assert.equal(full.timeoutMs, 3000);
  assert.deepEqual(full.headers, [{ name: 'X-Api-Key', secretFrom: { env: 'API_KEY' } }, { name: 'X-Digest', value: '${promote.digest}' }]);
  assert.deepEqual(full.bearerTokenFrom, { file: 'secrets/token' });
  assert.deepEqual(full.body, { json: { digest: '${promote.digest}' } });
  assert.equal(full.caFile, 'certs/ca.pem');
});

test('http gate (parser): invalid CEL is a problem at the expect pointer naming the column; an unknown variable is named', () => {
  const syntax = parse({ url: 'https://x.example/', expect: 'response.status == 200 &&& response.json.ok' });
  assert.equal(syntax.spec, undefined);
  assert.deepEqual(syntax.problems.map((p) => [p.pointer, p.rule]), [['/g/http/expect', 'gate-http-expect']]);
  assert.match(syntax.problems[0]!.message, /^expect is not a valid CEL expression \(column 24 of the expression\): found & but expecting end of input$/);
  const unknown = parse({ url: 'https://x.example/', expect: 'respons.status == 200' });
  assert.match(unknown.problems[0]!.message, /unknown variable "respons": this expression can use response, promote/);
  assert.equal(parse({ url: 'https://x.example/' }).problems[0]!.rule, 'required');
});

test('http gate (parser): what cannot be sent, or would put a secret in the pipeline file, is refused with the pointer', () => {
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ url: 'https://x.example/${promote.nope}', expect: 'true' }, '/g/http/url', /unknown placeholder \$\{promote\.nope\}/],
    [{ url: 'https://x.example/', body: { a: '${params.x}' }, method: 'POST', expect: 'true' }, '/g/http/body/a', /unknown placeholder/],
    [{ url: 'ftp://x.example/', expect: 'true' }, '/g/http/url', /absolute http:\/\/ or https:\/\//],
    [{ url: 'https://user:hunter2@x.example/', expect: 'true' }, '/g/http/url', /carries credentials/],
    [{ url: 'http://x.example/', caFile: 'ca.pem', expect: 'true' }, '/g/http/caFile', /for https URLs/],
    [{ url: 'https://x.example/', headers: { Authorization: 'Bearer abc' }, expect: 'true' }, '/g/http/headers', /header Authorization carries a credential/],
    [{ url: 'https://x.example/', headers: { Authorization: { secretFrom: { env: 'A' } } }, bearerTokenFrom: { env: 'B' }, expect: 'true' }, '/g/http/bearerTokenFrom', /both set Authorization/],
    [{ url: 'https://x.example/', headers: { 'X-A': 'a', 'x-a': 'b' }, expect: 'true' }, '/g/http/headers/x-a', /given twice/],
    [{ url: 'https://x.example/', headers: { 'Content-Length': '3' }, expect: 'true' }, '/g/http/headers/Content-Length', /set by the request itself/],
    [{ url: 'https://x.example/', headers: { 'X-A': 'a\r\nX-Injected: 1' }, expect: 'true' }, '/g/http/headers/X-A', /control character/],
    [{ url: 'https://x.example/', headers: { 'X-A': { secretFrom: 'literal-value' } }, expect: 'true' }, '/g/http/headers/X-A/secretFrom', /never written here/],
    [{ url: 'https://x.example/', method: 'HEAD', body: 'x', expect: 'true' }, '/g/http/body', /HEAD request has no body/],
    [{ url: 'https://x.example/', method: 'DELETE', expect: 'true' }, '/g/http/method', /method must be/],
    [{ url: 'https://x.example/', timeout: '10m', expect: 'true' }, '/g/http/timeout', /timeout/],
    [{ url: 'https://x.example/', expect: 'true', retries: 3 }, '/g/http/retries', /unknown http setting "retries"/],
  ];
  for (const [raw, pointer, message] of cases) {
    const r = parse(raw);
    assert.equal(r.spec, undefined, JSON.stringify(raw));
    assert.ok(r.problems.some((p) => p.pointer === pointer && message.test(p.message)), `${JSON.stringify(raw)}: ${JSON.stringify(r.problems)}`);
  }
});

test('http gate (fake fetch): the request carries the filled-in URL (URL-encoded), headers, bearer token and JSON body', async () => {
  const s = spec({
    url: 'https://api.example/checks/${promote.pipeline}/${promote.stage}?digest=${promote.digest}&from=${promote.from}', method: 'POST', timeout: '2s', caFile: 'ca.pem',
    headers: { 'X-Api-Key': { secretFrom: { env: 'API_KEY' }, prefix: 'Key ' }, 'X-Stage': '${promote.stage}' },
    bearerTokenFrom: { env: 'TOKEN' }, body: { digest: '${promote.digest}', nested: ['${promote.stage}', 3] },
    expect: 'response.status == 200',
  });
  const { ctx, requests } = fakeContext(json(200, {}), { API_KEY, TOKEN });
  const r = await httpGate.evaluate(s, ctx);
  assert.equal(r.passed, true, r.summary);
  assert.equal(requests.length, 1);
  const [{ url, request }] = requests as [{ url: string; request: GateRequest }];
  assert.equal(url, `https://api.example/checks/webapp/staging?digest=sha256%3A${'1'.repeat(64)}&from=dev`);
  assert.deepEqual(request, {
    method: 'POST', timeoutMs: 2000, caFile: 'ca.pem',
    headers: { 'X-Api-Key': `Key ${API_KEY}`, 'X-Stage': 'staging', Authorization: `Bearer ${TOKEN}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ digest: D1, nested: ['staging', 3] }),
  });
  // A string body is sent as written, with no content type of ours.
  const text = fakeContext(json(200, {}));
  await httpGate.evaluate(spec({ url: 'https://x.example/', method: 'PUT', body: 'stage=${promote.stage}', expect: 'true' }), text.ctx);
  assert.deepEqual(text.requests[0]!.request, { method: 'PUT', headers: {}, body: 'stage=staging', timeoutMs: 10_000 });
});

test('http gate (fake fetch): expect sees status as an int, lower-cased headers, the body, the parsed JSON and promote', async () => {
  const answer: GateResponse = { status: 204, headers: { 'content-type': 'application/json', 'x-ready': 'yes' }, body: '{"ok":true,"checks":[{"name":"db","up":true}],"count":5}' };
  const s = spec({
    url: 'https://x.example/',
    expect: 'response.status / 100 == 2 && response.headers["x-ready"] == "yes" && response.body.contains("db") && response.json.ok && response.json.checks.all(c, c.up) && response.json.count > 3 && promote.stage == "staging" && promote.from == "dev" && promote.digest.startsWith("sha256:") && promote.pipeline == "webapp"',
  });
  const r = await httpGate.evaluate(s, fakeContext(answer).ctx);
  assert.equal(r.passed, true, r.summary);
  assert.equal(r.summary, 'answered 204; expect holds');
  assert.deepEqual({ ...r.evidence, elapsedMs: 0 }, {
    method: 'GET', url: 'https://x.example/', expect: s.expect.source, status: 204, contentType: 'application/json', bytes: answer.body.length, bodyIsJson: true, elapsedMs: 0, verdict: true,
    findings: [`response: 204, application/json, ${answer.body.length} bytes of JSON, ${r.evidence.elapsedMs} ms`, `expect: ${s.expect.source} → true`],
  });
  // A stage without a from stage: promote.from is "".
  const first = await httpGate.evaluate(spec({ url: 'https://x.example/${promote.from}', expect: 'promote.from == ""' }), fakeContext(json(200, {}), {}, { from: undefined }).ctx);
  assert.equal(first.passed, true, first.summary);
});

test('http gate (fake fetch): false, a CEL error, a body that is not JSON, a value that is not a bool: each a failed gate with the verdict', async () => {
  const s = spec({ url: 'https://x.example/ready', expect: 'response.status == 200 && response.json.ok' });
  const down = await httpGate.evaluate(s, fakeContext(json(503, { ok: false })).ctx);
  assert.equal(down.passed, false);
  assert.equal(down.summary, 'answered 503; expect is false: response.status == 200 && response.json.ok');
  assert.equal(down.evidence.verdict, false);
  assert.equal(down.evidence.status, 503);

  const html = await httpGate.evaluate(s, fakeContext({ status: 200, headers: { 'content-type': 'text/html' }, body: '<html>ok</html>' }).ctx);
  assert.equal(html.passed, false);
  assert.equal(html.evidence.verdict, 'error');
  assert.equal(html.evidence.code, 'GATE_RESPONSE_INVALID');
  assert.equal(html.evidence.bodyIsJson, false);
  assert.match(html.summary, /expect failed: .*ok.* \(the body is not JSON, so response\.json is null\)$/);

  const missing = await httpGate.evaluate(spec({ url: 'https://x.example/', expect: 'response.json.nope == 1' }), fakeContext(json(200, { ok: true })).ctx);
  assert.equal(missing.passed, false);
  assert.equal(missing.evidence.verdict, 'error');
  assert.equal(missing.evidence.code, undefined, 'the body is JSON: a key the expression names is missing');

  const notBool = await httpGate.evaluate(spec({ url: 'https://x.example/', expect: 'response.body' }), fakeContext({ status: 200, headers: {}, body: 'session=abcdef' }).ctx);
  assert.equal(notBool.passed, false);
  assert.match(notBool.summary, /expect failed: the expression gave a string, not true or false$/);
  assert.doesNotMatch(JSON.stringify(notBool), /abcdef/, 'the body is never shown');
});

test('http gate (fake fetch): a failed request or a missing secret is a failed gate with its code, and nothing is sent without the secret', async () => {
  const s = spec({ url: 'https://x.example/', bearerTokenFrom: { env: 'TOKEN' }, expect: 'true' });
  const noSecret = fakeContext(json(200, {}));
  const r = await httpGate.evaluate(s, noSecret.ctx);
  assert.equal(r.passed, false);
  assert.equal(r.evidence.code, 'GATE_SECRET_MISSING');
  assert.equal(r.summary, 'not sent: secret from env TOKEN is not set');
  assert.equal(noSecret.requests.length, 0);
  for (const code of ['GATE_TIMEOUT', 'GATE_UNREACHABLE', 'GATE_RESPONSE_TOO_LARGE'] as const) {
    const failing = fakeContext(() => { throw new PromoteError(code, `https://x.example/ went wrong (${code})`, { outcome: 'refused' }); }, { TOKEN });
    const f = await httpGate.evaluate(s, failing.ctx);
    assert.deepEqual([f.passed, f.evidence.code, f.evidence.verdict], [false, code, 'not evaluated']);
  }
  const multiline = await httpGate.evaluate(s, fakeContext(json(200, {}), { TOKEN: 'abc\r\nX-Evil: 1' }).ctx);
  assert.deepEqual([multiline.passed, multiline.evidence.code], [false, 'GATE_SECRET_MISSING']);
  assert.doesNotMatch(JSON.stringify(multiline), /X-Evil/);
});

test('http gate (fake fetch): a secret echoed by the server or raised in a CEL error never reaches the summary or evidence', async () => {
  const s = spec({ url: 'https://x.example/', headers: { 'X-Api-Key': { secretFrom: { env: 'API_KEY' } } }, bearerTokenFrom: { env: 'TOKEN' }, expect: `response.json[response.json.auth] == 1` });
  // The server echoes the Authorization header; the expression indexes the JSON by it, so CEL's
  // error names the key it did not find: the token itself.
  const echo = fakeContext(json(200, { auth: `Bearer ${TOKEN}`, key: API_KEY }), { API_KEY, TOKEN });
  const r = await httpGate.evaluate(s, echo.ctx);
  assert.equal(r.passed, false);
  assert.equal(echo.requests[0]!.request.headers!.Authorization, `Bearer ${TOKEN}`, 'the token was sent');
  const shown = JSON.stringify(r);
  assert.doesNotMatch(shown, new RegExp(TOKEN));
  assert.doesNotMatch(shown, new RegExp(API_KEY));
  assert.match(String(r.evidence.error), /\*\*\*/, 'the error is shown with the secret scrubbed');
  assert.deepEqual(r.evidence.headers, { 'X-Api-Key': 'secret from env API_KEY' });
  assert.equal(r.evidence.bearerTokenFrom, 'env TOKEN');
});

test('http gate (fake fetch): scrubbing touches what the request and response gave, never the gate\'s name or kind', async () => {
  const s = spec({ url: 'https://x.example/', bearerTokenFrom: { env: 'TOKEN' }, expect: 'response.status == 200' });
  const r = await httpGate.evaluate(s, fakeContext({ status: 200, headers: {}, body: 'x' }, { TOKEN: 'http' }).ctx);
  assert.deepEqual([r.type, r.gate, r.passed], ['http', 'http GET https://x.example/', true]);
  assert.equal(r.evidence.url, '***s://x.example/', 'a secret that happens to be "http" is still scrubbed from the evidence');
});

test('http gate (fake fetch): a nested comprehension over a large list the server sends stops at the read budget as a failed gate, not minutes of CPU', async () => {
  const items = Array.from({ length: 3000 }, (_, i) => ({ id: i }));
  const s = spec({ url: 'https://x.example/', expect: 'response.json.items.all(a, response.json.items.all(b, a.id == b.id || a.id != b.id))' });
  const started = performance.now();
  const r = await httpGate.evaluate(s, fakeContext(json(200, { items })).ctx);
  assert.ok(performance.now() - started < 8000, 'stopped at the budget, not after 9 million comparisons');
  assert.equal(r.passed, false, r.summary);
  assert.equal(r.evidence.code, 'GATE_EXPRESSION_ERROR');
  assert.match(r.summary, /^answered 200; expect failed: .*read more than 1000000 fields/);
});
