import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { publishStatusReport, type StatusPhase } from '../../src/records/status-report.ts';
import { promote } from '../cli/run-promote.ts';
import { openPage, startBrowser } from '../harness/browser.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { git } from '../promotion/git-env.ts';
import { createProject, type TestProject } from '../promotion/project.ts';
import { outputDir, serveUi, type ServedUi } from './serve.ts';

// promote ui in headless Chromium (Debian's), against a real project: a real registry, a git
// ledger with promotions, and status reports signed by the agents' key. The page is the real
// CLI's (`promote ui` in a child process); promotions made meanwhile are the real CLI's too.

let registry: RegistryServer;
let base: string;
let browser: Browser;
let p: TestProject;
let ui: ServedUi;
let d1: string;
let d2: string;
let shots: string;

/** The page's document, typed for what the tests ask of it (the project's TypeScript has no DOM types). */
interface Doc { querySelector(selector: string): { textContent: string | null; getAttribute(name: string): string | null } | null }

const hex12 = (d: string) => d.slice('sha256:'.length, 'sha256:'.length + 12);

async function report(stage: string, cluster: string, digest: string, phase: StatusPhase, reason?: string) {
  const desc = (await p.registry.resolve(digest))!;
  const at = new Date(Date.now() - 60_000).toISOString();
  await publishStatusReport(p.registry, { mediaType: desc.mediaType, digest, size: desc.size }, { pipeline: 'webapp', stage, cluster, phase, bundle: { repository: p.repository, digest }, since: at, observedAt: at, ...(reason && { reason }) }, p.agent);
}

before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-ui-'));
  shots = await outputDir();
  p = await createProject(join(base, 'p'), registry.host, { name: 'ui-pipeline', agents: true });
  const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter });
  d1 = await p.push(1);
  d2 = await p.push(2);
  await promoteTo(eng, { stage: 'dev', bundle: d1 });
  await promoteTo(eng, { stage: 'staging', force: { reason: 'the test skips the soak' } });
  await report('dev', 'dev-1', d1, 'Converged');
  await report('staging', 'staging-eu-1', d1, 'Converged');
  await report('staging', 'staging-us-1', d1, 'Degraded', 'DeploymentUnavailable');
  ui = await serveUi(p.dir, p.env, ['--insecure']);
  browser = await startBrowser();
});

after(async () => {
  await browser?.close();
  await ui?.stop();
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

const ledgerHead = () => git(p.ledgerRemote, p.env, 'rev-parse', 'main').trim();

test('the pipeline view shows every stage in order with its digest, each cluster with its phase as text, and the stage whose clusters disagree; the CSP holds and nothing logs an error', async () => {
  const { page, errors } = await openPage(browser);
  const res = await page.goto(ui.url);
  const headers = res!.headers();
  assert.match(headers['content-security-policy']!, /^default-src 'self';/);
  assert.match(headers['content-security-policy']!, /frame-ancestors 'none'/);
  assert.doesNotMatch(headers['content-security-policy']!, /unsafe-inline|unsafe-eval|\*/);
  assert.equal(headers['x-content-type-options'], 'nosniff');
  await page.waitForSelector('#pipeline section.stage');
  assert.deepEqual(await page.$$eval('#pipeline section.stage', (els) => els.map((e) => e.getAttribute('data-stage'))), ['dev', 'staging', 'production']);
  assert.equal(await page.textContent('section[data-stage=dev] .runs a.digest'), hex12(d1));
  assert.equal(await page.textContent('section[data-stage=staging] .runs a.digest'), hex12(d1));
  assert.match((await page.textContent('section[data-stage=production] .runs'))!, /nothing promoted yet/);
  assert.match((await page.textContent('section[data-stage=dev] .runs'))!, /v1/, 'the version tag that names the bundle');
  for (const [cluster, phase] of [['dev-1', 'Converged'], ['staging-eu-1', 'Converged'], ['staging-us-1', 'Degraded'], ['prod-eu-1', 'none']] as const) {
    const card = page.locator(`article.cluster[data-cluster="${cluster}"]`);
    assert.equal(await card.getAttribute('data-phase'), phase, cluster);
    assert.match((await card.locator('.badge').textContent())!, phase === 'none' ? /no report/ : new RegExp(phase), `${cluster}: the phase is written, not only coloured`);
  }
  assert.equal(await page.getAttribute('section[data-stage=staging]', 'data-disagree'), 'true');
  assert.equal(await page.getAttribute('section[data-stage=dev]', 'data-disagree'), 'false');
  assert.match((await page.textContent('section[data-stage=staging] .disagreement'))!, /Converged, Degraded/);
  // What waits for production: staging's bundle, with each gate's verdict as plan gives it.
  const waiting = page.locator('section[data-stage=production] .waiting');
  assert.equal(await waiting.locator('a.digest').textContent(), hex12(d1));
  assert.match((await waiting.locator('li[data-gate=converged]').textContent())!, /^FAIL\s*converged: 1\/2 clusters of staging/);
  assert.match((await waiting.locator('li[data-gate=approval]').textContent())!, /^FAIL/);
  // Read-only: the page shows the command to run instead of a button.
  assert.deepEqual(await page.$$eval('section[data-stage=production] .actions code', (els) => els.map((e) => e.textContent)), ['promote to production', `promote approve production ${d1}`, 'promote hold production --reason "…"']);
  assert.equal(await page.locator('section[data-stage=production] .actions button:not([title=copy])').count(), 0);
  await page.screenshot({ path: join(shots, 'pipeline.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('a promotion made with the CLI meanwhile reaches the open page by itself, without a reload', async () => {
  const { page, errors } = await openPage(browser);
  await page.goto(ui.url);
  await page.waitForSelector('#pipeline section.stage');
  await page.waitForSelector('#live.on');
  await page.evaluate('window.stillHere = true');
  const promoted = await promote(['to', 'dev', '--bundle', d2, '--key', p.promoterKeyFile, '--insecure'], { cwd: p.dir, env: p.env });
  assert.equal(promoted.code, 0, promoted.stderr);
  // Functions (serialised into the page, so no closures), not strings: the page's CSP (no
  // 'unsafe-eval') refuses to evaluate a string.
  await page.waitForFunction((hex) => (globalThis as unknown as { document: Doc }).document.querySelector('section[data-stage=dev] .runs a.digest')?.textContent === hex, hex12(d2), { timeout: 45_000 });
  assert.equal(await page.evaluate('window.stillHere'), true, 'the same document: no reload');
  // A report arriving is pushed too: dev-1 now reports Progressing on the new bundle.
  await report('dev', 'dev-1', d2, 'Progressing');
  await page.waitForFunction(() => (globalThis as unknown as { document: Doc }).document.querySelector('article.cluster[data-cluster="dev-1"]')?.getAttribute('data-phase') === 'Progressing', undefined, { timeout: 45_000 });
  assert.deepEqual(errors, []);
});

test('an action asked of a read-only promote ui is refused with 403 and changes nothing', async () => {
  const { page, errors } = await openPage(browser);
  await page.goto(ui.url);
  await page.waitForSelector('#pipeline section.stage');
  const before = ledgerHead();
  const answer: { status: number; body: { error: { code: string } } } = await page.evaluate(async () => {
    const res = await fetch('/api/actions/hold', { method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer guessed-token-guessed-token' }, body: JSON.stringify({ stage: 'dev', reason: 'from the page' }) });
    return { status: res.status, body: (await res.json()) as { error: { code: string } } };
  });
  assert.equal(answer.status, 403);
  assert.equal(answer.body.error.code, 'UI_ACTIONS_DISABLED');
  assert.equal(ledgerHead(), before, 'the ledger did not move');
  // The console error of the refused fetch is the browser's report of the 403 itself.
  assert.ok(errors.every((e) => /403/.test(e)), errors.join('\n'));
});

test('the bundle view shows the journey, the signature and its signer, parameters per environment and the rendered diff; the history view lists a stage newest first', async () => {
  const { page, errors } = await openPage(browser);
  await page.goto(`${ui.url}#/bundle/${d1}`);
  await page.waitForSelector('.signature');
  assert.equal(await page.textContent('#bundle-digest'), d1);
  assert.equal(await page.getAttribute('.signature', 'data-passed'), 'true');
  assert.match((await page.textContent('.signature'))!, /signed by key keys\/ci\.pub/);
  assert.deepEqual(await page.$$eval('table.journey tr td:nth-child(2)', (els) => els.map((e) => e.textContent)), ['dev', 'staging']);
  assert.match((await page.textContent('.stage-params[data-stage=production]'))!, /\/namespace"production"|\/namespace\s*"production"/);
  await page.waitForSelector('.diff-box .cluster-diff', { timeout: 45_000 }).catch(async (err: Error) => assert.fail(`${err.message}\n${await page.textContent('.diff-box')}`));
  assert.equal(await page.inputValue('#diff-stage'), 'production', 'compared with the next stage it has not reached');
  assert.deepEqual(await page.$$eval('.diff-box .cluster-diff', (els) => els.map((e) => e.getAttribute('data-cluster'))), ['prod-eu-1']);
  await page.screenshot({ path: join(shots, 'bundle.png'), fullPage: true });

  await page.goto(`${ui.url}#/history/staging`);
  await page.waitForSelector('table.history');
  const actions = await page.$$eval('table.history tr[data-action]', (els) => els.map((e) => e.getAttribute('data-action')));
  const cli = await promote(['history', 'staging', '--output', 'json'], { cwd: p.dir, env: p.env });
  assert.deepEqual(actions, (JSON.parse(cli.stdout) as { action: string }[]).map((h) => h.action), 'the same entries, in the same order, as promote history');
  assert.match((await page.textContent('table.history'))!, /reason: the test skips the soak/);
  await page.screenshot({ path: join(shots, 'history.png'), fullPage: true });
  assert.deepEqual(errors, []);
});
