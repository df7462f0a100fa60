import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { promote } from '../cli/run-promote.ts';
import { openPage, startBrowser } from '../harness/browser.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from '../promotion/git-env.ts';
import { createProject, type TestProject } from '../promotion/project.ts';
import { serveUi, type ServedUi } from './serve.ts';

// promote ui --allow-actions: the page acts only with the token, in a header, from its own
// origin; an action is the CLI's engine call, so it is refused exactly where the CLI is.

const TOKEN = 'a-test-token-0123456789abcdef';
let registry: RegistryServer;
let base: string;
let browser: Browser;
let p: TestProject;
let ui: ServedUi;

before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-ui-actions-'));
  p = await createProject(join(base, 'p'), registry.host, { name: 'ui-actions', agents: true });
  const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter });
  await promoteTo(eng, { stage: 'dev', bundle: await p.push(1) });
  ui = await serveUi(p.dir, { ...p.env, PROMOTE_UI_TOKEN: TOKEN, PROMOTE_KEY: p.promoterKeyFile }, ['--insecure', '--allow-actions']);
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  await ui?.stop();
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

const ledgerHead = () => git(p.ledgerRemote, p.env, 'rev-parse', 'main').trim();

async function post(path: string, headers: Record<string, string>, body: unknown) {
  const res = await fetch(new URL(path, ui.url), { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as { error?: { code: string; message: string } } };
}

test('without the token, with a wrong one, or from another origin an action is refused and the ledger does not move', async () => {
  const head = ledgerHead();
  const hold = { stage: 'dev', reason: 'attack' };
  const none = await post('/api/actions/hold', {}, hold);
  assert.equal(none.status, 401);
  assert.equal(none.body.error?.code, 'UI_UNAUTHORIZED');
  const wrong = await post('/api/actions/hold', { Authorization: `Bearer ${TOKEN.slice(0, -1)}x` }, hold);
  assert.equal(wrong.status, 401);
  // The token in a cookie or the query string counts for nothing: only the header does.
  const cookie = await post(`/api/actions/hold?token=${TOKEN}`, { Cookie: `token=${TOKEN}` }, hold);
  assert.equal(cookie.status, 401);
  // A page on another site that knew the token still may not act (browsers send its Origin).
  const foreign = await post('/api/actions/hold', { Authorization: `Bearer ${TOKEN}`, Origin: 'http://evil.example' }, hold);
  assert.equal(foreign.status, 403);
  assert.equal(foreign.body.error?.code, 'UI_FORBIDDEN');
  // DNS rebinding: the right address under another name.
  const rebound = await new Promise<number | undefined>((resolve, reject) => {
    request(new URL('/api/status', ui.url), { headers: { Host: `evil.example:${new URL(ui.url).port}` } }, (res) => { res.resume(); resolve(res.statusCode); }).on('error', reject).end();
  });
  assert.equal(rebound, 403);
  // What another site makes the browser request (an <img>, a form) is marked so, and refused.
  const planted = await fetch(new URL('/api/status', ui.url), { headers: { 'Sec-Fetch-Site': 'cross-site' } });
  assert.equal(planted.status, 403);
  const get = await fetch(new URL('/api/actions/hold', ui.url));
  assert.equal(get.status, 400, 'an action is never a GET');
  assert.equal(ledgerHead(), head);
});

test('with the token the page holds a stage (the live view then shows it held), and a promotion the gates refuse is refused as the CLI refuses it', async () => {
  const { page, errors } = await openPage(browser);
  await page.goto(ui.url);
  await page.waitForSelector('section[data-stage=dev] .actions button');
  await page.fill('#token', TOKEN);
  page.once('dialog', (d) => void d.accept('testing the page'));
  await page.click('section[data-stage=dev] .actions button:has-text("Hold")');
  await page.waitForSelector('section[data-stage=dev] .held', { timeout: 45_000 });
  assert.match((await page.textContent('section[data-stage=dev] .held'))!, /HELD by Pat <pat@example\.com>: testing the page/);
  const history = await promote(['history', 'dev', '--output', 'json'], { cwd: p.dir, env: p.env });
  assert.equal((JSON.parse(history.stdout) as { action: string }[])[0]!.action, 'hold');

  const head = ledgerHead();
  const cli = await promote(['to', 'staging', '--insecure', '--key', p.promoterKeyFile, '--output', 'json'], { cwd: p.dir, env: p.env });
  assert.equal(cli.code, 3, cli.stderr);
  const refusal = await post('/api/actions/promote', { Authorization: `Bearer ${TOKEN}` }, { stage: 'staging' });
  assert.equal(refusal.status, 409);
  assert.equal(refusal.body.error?.code, (JSON.parse(cli.stdout || cli.stderr) as { error: { code: string } }).error.code);
  assert.equal(ledgerHead(), head, 'a refused promotion writes nothing');
  assert.ok(errors.every((e) => /409|40[13]/.test(e)), errors.join('\n'));
});
