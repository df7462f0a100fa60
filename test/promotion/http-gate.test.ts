import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GateContext, GateResult } from '../../src/pipeline/gate.ts';
import { httpGate } from '../../src/pipeline/gates/http.ts';
import { gateFetch } from '../../src/promotion/gate-fetch.ts';
import { readSecret } from '../../src/promotion/gate-secrets.ts';
import { closedPort, json, startLocalServer, type LocalServer } from '../harness/local-server.ts';

// The http gate against real servers on 127.0.0.1 (node:http, and node:https with the
// harness's test CA), through the engine's own fetch and secret facts (gate-fetch.ts,
// gate-secrets.ts): pass, and each way a check refuses.

const D1 = `sha256:${'1'.repeat(64)}`;
const TOKEN = 'tok-9c2e7a51d3f84b06';

let root: string;
let server: LocalServer;
let tlsServer: LocalServer;

function handler(req: { url: string; headers: Record<string, unknown> }, res: import('node:http').ServerResponse) {
  const path = req.url.split('?')[0];
  if (path === '/ready') return json(res, 200, { ok: true, stage: req.url.split('stage=')[1] });
  if (path === '/down') return json(res, 503, { ok: false });
  if (path === '/not-ok') return json(res, 200, { ok: false });
  if (path === '/hang') return; // never answers
  if (path === '/broken') return res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok": tru');
  if (path === '/auth') return json(res, req.headers.authorization === `Bearer ${TOKEN}` ? 200 : 401, {});
  return json(res, 404, {});
}

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'promote-http-gate-'));
  server = await startLocalServer(handler);
  tlsServer = await startLocalServer(handler, { tls: true });
  await writeFile(join(root, 'ca.pem'), tlsServer.caCert!);
  await writeFile(join(root, 'token'), `${TOKEN}\n`);
});
after(async () => {
  await server?.stop();
  await tlsServer?.stop();
  await rm(root, { recursive: true, force: true });
});

async function run(raw: Record<string, unknown>): Promise<GateResult> {
  await httpGate.prepare!();
  const problems: unknown[] = [];
  const spec = httpGate.parse(raw, '/g', (pointer, p) => problems.push({ pointer, ...p }));
  assert.deepEqual(problems, []);
  const ctx = {
    pipeline: 'webapp', stage: 'staging', from: 'dev', candidate: D1, now: new Date(), promoter: 'Pat <pat@example.com>',
    fetch: (url, request) => gateFetch(url, request, { root }),
    secret: (ref) => readSecret(ref, { env: {}, root }),
  } as GateContext<'fetch' | 'secret'>;
  return httpGate.evaluate(spec!, ctx);
}

const EXPECT = 'response.status == 200 && response.json.ok';

test('http gate (real server): passes on 200 with {"ok": true}, the stage filled into the URL', async () => {
  const r = await run({ url: `${server.url}/ready?stage=\${promote.stage}`, expect: `${EXPECT} && response.json.stage == promote.stage` });
  assert.equal(r.passed, true, r.summary);
  assert.equal(r.summary, 'answered 200; expect holds');
  assert.equal((r.evidence.findings as string[])[0], `request: GET ${server.url}/ready?stage=staging`);
  assert.equal(server.requests.at(-1)!.url, '/ready?stage=staging');
  assert.deepEqual([r.evidence.status, r.evidence.contentType, r.evidence.verdict, r.evidence.bodyIsJson], [200, 'application/json', true, true]);
  assert.equal(typeof r.evidence.elapsedMs, 'number');
});

test('http gate (real server): refuses on 503, and on 200 when the expression is false, with the verdict in the evidence', async () => {
  const down = await run({ url: `${server.url}/down`, expect: EXPECT });
  assert.deepEqual([down.passed, down.evidence.status, down.evidence.verdict], [false, 503, false]);
  assert.equal(down.summary, 'answered 503; expect is false: response.status == 200 && response.json.ok');
  const notOk = await run({ url: `${server.url}/not-ok`, expect: EXPECT });
  assert.deepEqual([notOk.passed, notOk.evidence.status, notOk.evidence.verdict], [false, 200, false]);
  assert.deepEqual(notOk.evidence.findings, [`response: 200, application/json, 12 bytes of JSON, ${notOk.evidence.elapsedMs} ms`, `expect: ${EXPECT} → false`]);
});

test('http gate (real server): refuses when the server does not answer within the timeout, and when nothing listens', async () => {
  const started = Date.now();
  const hang = await run({ url: `${server.url}/hang`, timeout: '300ms', expect: EXPECT });
  assert.deepEqual([hang.passed, hang.evidence.code], [false, 'GATE_TIMEOUT']);
  assert.match(hang.summary, /did not answer within 0\.3s/);
  assert.ok(Date.now() - started < 5000, 'the timeout bounds the gate');
  const port = await closedPort();
  const gone = await run({ url: `http://127.0.0.1:${port}/ready`, expect: EXPECT });
  assert.deepEqual([gone.passed, gone.evidence.code], [false, 'GATE_UNREACHABLE']);
  assert.match(gone.summary, /cannot reach .*ECONNREFUSED/);
});

test('http gate (real server): malformed JSON refuses an expression that reads json', async () => {
  const r = await run({ url: `${server.url}/broken`, expect: EXPECT });
  assert.deepEqual([r.passed, r.evidence.verdict, r.evidence.code, r.evidence.bodyIsJson], [false, 'error', 'GATE_RESPONSE_INVALID', false]);
  assert.match(r.summary, /the body is not JSON, so response\.json is null/);
  // The same body passes an expression that does not read json.
  assert.equal((await run({ url: `${server.url}/broken`, expect: 'response.status == 200' })).passed, true);
});

test('http gate (real server): https passes with the CA in caFile and refuses without it', async () => {
  const withCa = await run({ url: `${tlsServer.url}/ready`, caFile: 'ca.pem', expect: EXPECT });
  assert.equal(withCa.passed, true, withCa.summary);
  const without = await run({ url: `${tlsServer.url}/ready`, expect: EXPECT });
  assert.deepEqual([without.passed, without.evidence.code], [false, 'GATE_UNREACHABLE']);
  assert.match(without.summary, /certificate/);
});

test('http gate (real server): the bearer token from a file reaches the server, and not the evidence', async () => {
  const r = await run({ url: `${server.url}/auth`, bearerTokenFrom: { file: 'token' }, expect: 'response.status == 200' });
  assert.equal(r.passed, true, r.summary);
  assert.equal(server.requests.at(-1)!.headers.authorization, `Bearer ${TOKEN}`);
  assert.doesNotMatch(JSON.stringify(r), new RegExp(TOKEN));
  const missing = await run({ url: `${server.url}/auth`, bearerTokenFrom: { file: 'no-such-token' }, expect: 'response.status == 200' });
  assert.deepEqual([missing.passed, missing.evidence.code], [false, 'GATE_SECRET_MISSING']);
  assert.match(String(missing.evidence.hint), /create no-such-token \(relative to the project root\)/);
  assert.equal(server.requests.filter((r) => r.url === '/auth').length, 1, 'nothing is sent without the secret');
});
