import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { promote } from '../cli/run-promote.ts';
import { openPage, startBrowser } from '../harness/browser.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from '../promotion/project.ts';
import { serveUi, type ServedUi } from './serve.ts';

// Attacks on `promote ui` over real HTTP: the real CLI in a child process, a real registry and
// git ledger. Each test performs the attack with a hand-made request (what a hostile page, a
// rebinding DNS name or a local process can send) and checks what came back; markup written into
// the ledger is looked at in headless Chromium (Debian's).

let registry: RegistryServer;
let base: string;
let p: TestProject;
let ui: ServedUi;
let d1: string;

before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-ui-attacks-'));
  p = await createProject(join(base, 'p'), registry.host, { name: 'ui-attacks' });
  const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter });
  d1 = await p.push(1);
  await promoteTo(eng, { stage: 'dev', bundle: d1 });
  ui = await serveUi(p.dir, p.env, ['--insecure']);
});

after(async () => {
  await ui?.stop();
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

/** One request with exactly the path and headers given (the path is sent as is, not normalised). */
function get(path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Reply> {
  const u = new URL(ui.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method, headers: { host: u.host, ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const code = (r: Reply): string | undefined => (JSON.parse(r.body) as { error?: { code?: string } }).error?.code;

test('DNS rebinding and cross-site reads are refused: another Host name (or one that starts like ours), no Host, Sec-Fetch-Site cross-site or same-site', async () => {
  const { port } = new URL(ui.url);
  assert.equal((await get('/api/status')).status, 200);
  for (const host of [`evil.example:${port}`, `127.0.0.1.evil.example:${port}`, `localhost.evil.example:${port}`, '127.0.0.1', `127.0.0.1:${port}.evil.example`]) {
    const r = await get('/api/status', { host });
    assert.equal(r.status, 403, host);
    assert.equal(code(r), 'UI_FORBIDDEN');
    assert.equal((await get('/', { host })).status, 403, `the page for ${host}`);
  }
  for (const site of ['cross-site', 'same-site']) assert.equal((await get('/api/pipeline', { 'sec-fetch-site': site })).status, 403, site);
});

test('asset paths cannot leave the four shipped files: /.., %2e%2e, doubled slashes, backslashes and absolute paths are 404 and serve no source', async () => {
  for (const path of ['/../package.json', '/%2e%2e/package.json', '/%2E%2E%2Fpackage.json', '/web/app.js', '//etc/passwd', '/app.js/../../package.json', '/..%5c..%5cpackage.json', '/.%2e/.%2e/src/ui/server.ts', '/index.html', '/app.js%00.png']) {
    const r = await get(path);
    assert.equal(r.status, 404, `${path}: ${r.status}`);
    assert.ok(!/"name":\s*"promote"|import /.test(r.body), path);
  }
  const js = await get('/app.js');
  assert.equal(js.status, 200);
  assert.match(String(js.headers['content-security-policy']), /script-src 'self'/);
});

test('stage and digest parameters never reach the engine as paths: .. in a stage name is an unknown stage, a non-digest is refused before any registry read, malformed %-encoding is a 400 (not a 500)', async () => {
  for (const path of ['/api/history/..%2F..%2Fetc%2Fpasswd', '/api/plan/..%2Fdev', '/api/history/dev%2F..%2Fstaging']) {
    const r = await get(path);
    assert.equal(r.status, 404, `${path}: ${r.body}`);
    assert.equal(code(r), 'STAGE_UNKNOWN');
  }
  for (const path of ['/api/bundle/not-a-digest', `/api/bundle/${d1}%2F..%2F..`, `/api/bundle/${d1.toUpperCase()}`, '/api/bundle/sha256:..']) {
    const r = await get(path);
    assert.equal(r.status, 400, `${path}: ${r.body}`);
    assert.equal(code(r), 'UI_BAD_REQUEST');
  }
  for (const path of ['/api/history/%E0%A4%A', '/api/plan/%', '/api/bundle/%ZZ']) {
    const r = await get(path);
    assert.equal(r.status, 400, `${path}: ${r.status} ${r.body}`);
    assert.equal(code(r), 'UI_BAD_REQUEST');
  }
  const other = await get('/api/plan/dev?bundle=..%2F..%2Fv2%2F_catalog');
  assert.ok(other.status >= 400 && other.status < 500, `${other.status} ${other.body}`);
});

test('a credential in a bundle reference given to the API is not echoed back in the error', async () => {
  for (const bundle of ['https://pat:TOPSECRET-1234567890@evil.example/acme/webapp:v1', 'evil.example/acme/webapp:v1?access_token=TOPSECRET-1234567890', 'Bearer TOPSECRET-1234567890abcdef']) {
    const r = await get(`/api/plan/dev?bundle=${encodeURIComponent(bundle)}`);
    assert.ok(r.status >= 400, `${bundle}: ${r.status}`);
    assert.ok(!r.body.includes('TOPSECRET'), `${bundle}: ${r.body}`);
  }
});

test('an action is never taken by GET, nor with the token in the query string, on a read-only promote ui', async () => {
  for (const [path, method] of [['/api/actions/hold', 'GET'], ['/api/actions/hold?token=0123456789abcdef0123', 'GET'], ['/api/actions/hold?stage=dev', 'POST']] as const) {
    const r = await get(path, {}, method);
    assert.ok(r.status === 400 || r.status === 403, `${method} ${path}: ${r.status}`);
  }
  const summary = JSON.parse((await get('/api/pipeline')).body) as { stages: Array<{ summary: { stage: string; held?: boolean } }> };
  assert.ok(summary.stages.every((s) => !s.summary.held));
});

test('many event-stream subscribers are capped: one over the limit is answered 503 at once, and a stream is free again once a subscriber leaves', async () => {
  const u = new URL(ui.url);
  const open = () => new Promise<{ status: number; close(): void }>((resolve, reject) => {
    const socket = connect(Number(u.port), u.hostname, () => socket.write(`GET /api/events HTTP/1.1\r\nHost: ${u.host}\r\n\r\n`));
    let head = '';
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      head += d;
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (m) {
        socket.removeAllListeners('data');
        socket.on('data', () => {});
        resolve({ status: Number(m[1]), close: () => socket.destroy() });
      }
    });
    socket.on('error', reject);
  });
  const streams = [];
  for (let i = 0; i < 64; i++) streams.push(await open());
  assert.ok(streams.every((s) => s.status === 200));
  const over = await open();
  over.close();
  assert.equal(over.status, 503);
  streams.pop()!.close();
  await new Promise((r) => setTimeout(r, 200));
  const again = await open();
  again.close();
  assert.equal(again.status, 200);
  for (const s of streams) s.close();
});

test('markup in a hold reason (written with the real CLI into the ledger) is shown as text in the page: no element, no script, no CSP violation', async () => {
  const payload = '<img src=x id=xss-img onerror="document.title=\'pwned\'"><b id=xss-b>bold</b><script id=xss-s>document.title="pwned"</script>';
  const held = await promote(['hold', 'dev', '--reason', payload], { cwd: p.dir, env: p.env });
  assert.equal(held.code, 0, held.stderr);
  let browser: Browser | undefined;
  try {
    browser = await startBrowser();
    const { page, errors } = await openPage(browser);
    await page.goto(ui.url);
    const note = page.locator('section[data-stage=dev] .held');
    await note.waitFor({ timeout: 15_000 });
    assert.ok((await note.textContent())!.includes(payload), await note.textContent() ?? '');
    assert.equal(await page.locator('#xss-img, #xss-b, #xss-s').count(), 0);
    assert.notEqual(await page.title(), 'pwned');
    assert.deepEqual(errors, []);
  } finally {
    await browser?.close();
    await promote(['release', 'dev'], { cwd: p.dir, env: p.env });
  }
});
