import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyBody, SIGNATURE_HEADER } from '../../src/notify/signature.ts';
import { publishStatusReport, type StatusPhase } from '../../src/records/status-report.ts';
import { promote as runPromote, type Run } from '../cli/run-promote.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from '../promotion/project.ts';
import { closedPort, startReceiver, type Received, type Receiver } from './receiver.ts';

// spec.notify end to end: the real CLI (bin/promote.js) against a real registry and a bare git
// ledger, sending to receivers on 127.0.0.1 that record what they get.

let registry: RegistryServer;
let base: string;
const receivers: Receiver[] = [];
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-notify-it-'));
});
after(async () => {
  for (const r of receivers) await r.stop();
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

const HMAC_KEY = 'whsec-0123456789-not-for-payloads';
const FILE_KEY = 'file-held-hmac-key-987654321';
const BEARER = 'ghp_BearerTokenInTheEnvironment0123456789';

async function receiver(port?: number): Promise<Receiver> {
  const r = await startReceiver(port);
  receivers.push(r);
  return r;
}

/** `p`'s pipeline with `notify` (YAML flow list items) under spec. */
async function withNotify(p: TestProject, ...webhooks: string[]): Promise<void> {
  const file = join(p.dir, 'pipelines', 'webapp.yaml');
  const text = await readFile(file, 'utf8');
  await writeFile(file, text.replace('spec:\n', `spec:\n  notify:\n${webhooks.map((w) => `    - webhook: ${w}\n`).join('')}`));
}

/** `promote validate` in `p` (it takes no registry options). */
function validate(p: TestProject, ...args: string[]): Promise<Run> {
  return runPromote(['validate', ...args], { cwd: p.dir, env: { ...p.env, NO_COLOR: '1' } });
}

function promote(p: TestProject, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return runPromote([...args, '--insecure'], { cwd: p.dir, env: { ...p.env, PROMOTE_KEY: p.promoterKeyFile, NO_COLOR: '1', PROMOTE_WEBHOOK_SECRET: HMAC_KEY, PROMOTE_TOKEN: BEARER, ...env }, killAfterMs: 120_000 });
}

async function report(p: TestProject, stage: string, cluster: string, digest: string, phase: StatusPhase, since: Date, sequence?: number) {
  const desc = (await p.registry.resolve(digest))!;
  await publishStatusReport(p.registry, { mediaType: desc.mediaType, digest, size: desc.size }, { pipeline: 'webapp', stage, cluster, phase, ...(phase === 'Degraded' && { reason: 'ProbeFailing' }), bundle: { repository: p.repository, digest }, since: since.toISOString(), observedAt: new Date().toISOString(), ...(sequence && { sequence }) }, p.promoter);
}

const json = (q: Received) => JSON.parse(q.body);
/** The event inside any format's body. */
const eventOf = (q: Received) => {
  const b = json(q);
  return b.specversion ? b.data : b.metadata ? { type: b.metadata.event_type.replace(/^promote_/, '').replace(/_/g, '-'), id: b.metadata.event_payload.id, text: b.text } : b;
};

function noSecrets(requests: Received[]): void {
  for (const q of requests) {
    const shown = JSON.stringify({ body: q.body, headers: { ...q.headers, [SIGNATURE_HEADER]: undefined } });
    for (const secret of [HMAC_KEY, FILE_KEY, BEARER]) assert.ok(!shown.includes(secret), `a payload carries a secret: ${shown}`);
    // Parameters are not part of any event.
    assert.ok(!/replicas|namespace/.test(q.body), q.body);
  }
}

test('a promotion sends promoted to a json, a slack and a cloudevents receiver, each body HMAC-signed; no secret in any payload', async (t) => {
  const p = await createProject(join(base, 'formats'), registry.host, { name: 'formats' });
  const r = await receiver();
  await mkdir(join(p.dir, 'secrets'));
  await writeFile(join(p.dir, 'secrets', 'hook-key'), `${FILE_KEY}\n`);
  const root = r.url.replace(/\/hook$/, '');
  await withNotify(p, `{url: "${root}/json", secretFrom: {env: PROMOTE_WEBHOOK_SECRET}}`, `{url: "${root}/slack", format: slack, secretFrom: {file: secrets/hook-key}}`, `{url: "${root}/ce", format: cloudevents, secretFrom: {env: PROMOTE_WEBHOOK_SECRET}}`);
  const d1 = await p.push(1);
  const to = await promote(p, ['to', 'dev', '--bundle', d1, '--output', 'json']);
  assert.equal(to.code, 0, to.stderr);
  const result = JSON.parse(to.stdout);
  t.diagnostic(`promote to with three receivers that answer at once: ${to.ms} ms`);
  const got = await r.waitFor(3);
  const byPath = Object.fromEntries(got.map((q) => [q.path, q]));
  assert.deepEqual(Object.keys(byPath).sort(), ['/ce', '/json', '/slack']);

  const plain = byPath['/json']!;
  assert.ok(verifyBody(plain.body, plain.headers[SIGNATURE_HEADER] as string, HMAC_KEY), 'json body signature');
  assert.equal(plain.headers['content-type'], 'application/json');
  const e = json(plain);
  assert.equal(e.type, 'promoted');
  assert.equal(e.pipeline, 'webapp');
  assert.equal(e.stage, 'dev');
  assert.equal(e.bundle, d1);
  assert.equal(e.record, result.record);
  assert.equal(e.by, 'Pat <pat@example.com>');
  assert.match(e.summary, /^webapp: Pat <pat@example\.com> promoted sha256:[0-9a-f]{12}… to dev$/);

  const slack = byPath['/slack']!;
  assert.ok(verifyBody(slack.body, slack.headers[SIGNATURE_HEADER] as string, FILE_KEY), 'slack body signature (key from a file)');
  assert.match(json(slack).text, /^:white_check_mark: webapp: Pat &lt;pat@example\.com&gt; promoted sha256:[0-9a-f]{12}… to dev$/);

  const ce = byPath['/ce']!;
  assert.ok(verifyBody(ce.body, ce.headers[SIGNATURE_HEADER] as string, HMAC_KEY), 'cloudevents body signature');
  assert.equal(ce.headers['content-type'], 'application/cloudevents+json; charset=utf-8');
  assert.equal(json(ce).type, 'dev.promote.promoted');
  assert.equal(json(ce).data.record, result.record);
  // One event, one id, whatever the format.
  assert.equal(new Set(got.map((q) => eventOf(q).id)).size, 1);
  noSecrets(got);

  // validate: signed webhooks pass quietly.
  const v = await validate(p, '--output', 'json');
  assert.deepEqual(JSON.parse(v.stdout).warnings.filter((w: string) => w.includes('notify')), []);
});

test('a refused promotion sends refused with its gates and approval-requested; rollback and hold/release send theirs; validate warns about an unsigned webhook', async () => {
  const p = await createProject(join(base, 'refused'), registry.host, { name: 'refused', productionGates: '[{approval: {count: 1}}]' });
  const r = await receiver();
  await withNotify(p, `{url: "${r.url}"}`);
  const d1 = await p.push(1);
  assert.equal((await promote(p, ['to', 'dev', '--bundle', d1])).code, 0);
  await report(p, 'dev', 'dev-1', d1, 'Converged', new Date(Date.now() - 3_600_000));
  assert.equal((await promote(p, ['to', 'staging'])).code, 0);
  const refused = await promote(p, ['to', 'production']);
  assert.equal(refused.code, 3, refused.stderr);
  await r.waitFor(4);
  const [dev, staging, no, ask] = r.requests.map(json);
  assert.deepEqual([dev.type, staging.type, no.type, ask.type], ['promoted', 'promoted', 'refused', 'approval-requested']);
  assert.equal(staging.stage, 'staging');
  assert.equal(no.stage, 'production');
  assert.equal(no.bundle, d1);
  assert.match(no.summary, /refused for production: .*approval/);
  assert.deepEqual(no.gates.map((g: { type: string; passed: boolean }) => [g.type, g.passed]), [['approval', false]]);
  assert.ok(!('evidence' in no.gates[0]));
  assert.equal(ask.bundle, d1);
  assert.match(ask.summary, /waits for approval to enter production: .*promote approve production sha256:/);
  assert.notEqual(no.id, ask.id);

  const d2 = await p.push(2);
  assert.equal((await promote(p, ['to', 'dev', '--bundle', d2])).code, 0);
  const back = await promote(p, ['rollback', 'dev']);
  assert.equal(back.code, 0, back.stderr);
  assert.equal((await promote(p, ['hold', 'dev', '--reason', 'incident INC-7'])).code, 0);
  assert.equal((await promote(p, ['release', 'dev'])).code, 0);
  await r.waitFor(8);
  const later = r.requests.slice(4).map(json);
  assert.deepEqual(later.map((e) => e.type), ['promoted', 'rolled-back', 'held', 'released']);
  assert.equal(later[1].bundle, d1);
  assert.equal(later[2].reason, 'incident INC-7');
  assert.equal(r.requests.some((q) => q.headers[SIGNATURE_HEADER] !== undefined), false, 'no secret configured: nothing signed');
  noSecrets(r.requests);

  const v = await validate(p, '--output', 'json');
  const warnings = JSON.parse(v.stdout).warnings as string[];
  assert.equal(warnings.filter((w) => /spec\.notify\[0\].*no secretFrom.*NOTIFY_UNSIGNED/.test(w)).length, 1, warnings.join('\n'));
  const text = await validate(p);
  assert.match(text.stderr, /warning: .*spec\.notify\[0\].*has no secretFrom/);
});

test('a receiver that fails twice then accepts gets the event (retries); one that is down neither fails nor stalls the promotion, and the next run delivers what it missed', async (t) => {
  const p = await createProject(join(base, 'down'), registry.host, { name: 'down' });
  const flaky = await receiver();
  const port = await closedPort();
  await withNotify(p, `{url: "${flaky.url}", secretFrom: {env: PROMOTE_WEBHOOK_SECRET}}`, `{url: "http://127.0.0.1:${port}/services/T0/B0/PathIsTheSecret", format: slack}`);
  flaky.fail(500, 503);
  const d1 = await p.push(1);
  const to = await promote(p, ['to', 'dev', '--bundle', d1]);
  assert.equal(to.code, 0, to.stderr);
  // Retries with backoff are bounded: 4 quick refusals and ~1.75 s of pauses, not a hang.
  assert.ok(to.ms < 20_000, `promote to took ${to.ms} ms`);
  t.diagnostic(`promote to with one receiver failing twice and one down: ${to.ms} ms`);
  assert.equal(flaky.requests.length, 3);
  assert.equal(new Set(flaky.requests.map((q) => json(q).id)).size, 1);
  for (const q of flaky.requests) assert.ok(verifyBody(q.body, q.headers[SIGNATURE_HEADER] as string, HMAC_KEY));
  assert.match(to.stderr, new RegExp(`warning: notify: promoted event for http://127\\.0\\.0\\.1:${port}/… not delivered after 4 attempts`));
  assert.ok(!to.stderr.includes('PathIsTheSecret'), to.stderr);

  const notifyRoot = join(p.env.PROMOTE_CACHE_DIR!, 'notify');
  const [pipelineDir] = await readdir(notifyRoot);
  const queued = await readdir(join(notifyRoot, pipelineDir!, 'outbox'));
  assert.equal(queued.length, 1);
  const entry = JSON.parse(await readFile(join(notifyRoot, pipelineDir!, 'outbox', queued[0]!), 'utf8'));
  assert.equal(entry.event.type, 'promoted');
  assert.ok(!JSON.stringify(entry).includes('PathIsTheSecret'));

  const back = await receiver(port);
  const run = await promote(p, ['run', '--once']);
  assert.equal(run.code, 0, run.stderr);
  await back.waitFor(1);
  assert.equal(back.requests[0]!.path, '/services/T0/B0/PathIsTheSecret');
  assert.equal(eventOf(back.requests[0]!).id, entry.event.id);
  assert.deepEqual(await readdir(join(notifyRoot, pipelineDir!, 'outbox')), []);
  // The receiver that took the event is not sent it again: the outbox holds it per receiver.
  assert.equal(flaky.requests.length, 3);
  noSecrets([...flaky.requests, ...back.requests]);
});

test('promote run announces an agent turning Degraded once, not on every pass, and again after it recovered and degraded anew', async () => {
  const p = await createProject(join(base, 'agents'), registry.host, { name: 'agents' });
  const r = await receiver();
  await withNotify(p, `{url: "${r.url}", secretFrom: {env: PROMOTE_WEBHOOK_SECRET}, events: [agent-degraded, agent-drifted, agent-refused]}`);
  const d1 = await p.push(1);
  const since = new Date(Date.now() - 60_000);
  await report(p, 'dev', 'dev-1', d1, 'Degraded', since, 1);
  for (let pass = 0; pass < 3; pass++) {
    const run = await promote(p, ['run', '--once']);
    assert.equal(run.code, 0, run.stderr);
  }
  assert.equal(r.requests.length, 1, JSON.stringify(r.requests.map(json)));
  const e = json(r.requests[0]!);
  assert.equal(e.type, 'agent-degraded');
  assert.equal(e.cluster, 'dev-1');
  assert.equal(e.stage, 'dev');
  assert.equal(e.phase, 'Degraded');
  assert.equal(e.reason, 'ProbeFailing');
  assert.equal(e.bundle, d1);

  await report(p, 'dev', 'dev-1', d1, 'Converged', new Date(), 2);
  assert.equal((await promote(p, ['run', '--once'])).code, 0);
  assert.equal(r.requests.length, 1);
  await report(p, 'dev', 'dev-1', d1, 'Degraded', new Date(), 3);
  assert.equal((await promote(p, ['run', '--once'])).code, 0);
  assert.equal(r.requests.length, 2);
  assert.equal(json(r.requests[1]!).type, 'agent-degraded');
  // Reports the gates would not count are not announced: one signed by a stranger, and one by a
  // trusted key about another pipeline (read back as Refused, unverified — not an agent-refused).
  const desc = (await p.registry.resolve(d1))!;
  const subject = { mediaType: desc.mediaType, digest: d1, size: desc.size };
  const fields = { stage: 'dev', cluster: 'dev-1', phase: 'Drifted' as const, bundle: { repository: p.repository, digest: d1 }, since: new Date().toISOString(), observedAt: new Date().toISOString() };
  await publishStatusReport(p.registry, subject, { ...fields, pipeline: 'webapp', sequence: 9 }, p.stranger);
  assert.equal((await promote(p, ['run', '--once'])).code, 0);
  await publishStatusReport(p.registry, subject, { ...fields, pipeline: 'another-pipeline', sequence: 10 }, p.promoter);
  assert.equal((await promote(p, ['run', '--once'])).code, 0);
  assert.equal(r.requests.length, 2, JSON.stringify(r.requests.map(json)));
  noSecrets(r.requests);
});

test('promote run announces a candidate waiting for approval once across passes, and its promotion once approved', async () => {
  const p = await createProject(join(base, 'waiting'), registry.host, { name: 'waiting' });
  const file = join(p.dir, 'pipelines', 'webapp.yaml');
  await writeFile(file, (await readFile(file, 'utf8')).replace('gates: [{converged: {}}, {soak: 15m}]', 'gates: [{approval: {count: 1}}]'));
  const r = await receiver();
  await withNotify(p, `{url: "${r.url}", format: cloudevents, secretFrom: {env: PROMOTE_WEBHOOK_SECRET}}`);
  const d1 = await p.push(1);
  for (let pass = 0; pass < 3; pass++) {
    const run = await promote(p, ['run', '--once']);
    assert.equal(run.code, 0, run.stderr);
  }
  assert.deepEqual(r.requests.map((q) => [json(q).type, json(q).subject]), [['dev.promote.promoted', 'dev'], ['dev.promote.approval-requested', 'staging']]);
  assert.equal(json(r.requests[1]!).data.bundle, d1);
  const approved = await runPromote(['approve', 'staging', d1, '--key', p.approverKeyFile, '--insecure'], { cwd: p.dir, env: { ...p.env, NO_COLOR: '1' } });
  assert.equal(approved.code, 0, approved.stderr);
  assert.equal((await promote(p, ['run', '--once'])).code, 0);
  assert.deepEqual(r.requests.slice(2).map((q) => [json(q).type, json(q).subject]), [['dev.promote.promoted', 'staging']]);
});

test('an http gate\'s bearer token and secret header, echoed back by its server, reach no refused payload', async () => {
  const { createServer } = await import('node:http');
  // A server that answers 403 with every header it was sent, the secrets among them.
  const echo = createServer((req, res) => {
    res.statusCode = 403;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: false, sawAuthorization: req.headers.authorization, sawKey: req.headers['x-api-key'] }));
  });
  await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = echo.address() as import('node:net').AddressInfo;
    const p = await createProject(join(base, 'http-secrets'), registry.host, { name: 'httpsecrets' });
    const file = join(p.dir, 'pipelines', 'webapp.yaml');
    const gate = `[{http: {url: "http://127.0.0.1:${port}/ready", bearerTokenFrom: {env: PROMOTE_TOKEN}, headers: {X-Api-Key: {secretFrom: {env: API_KEY}}}, expect: "response.status == 200 && response.json.ok"}}]`;
    await writeFile(file, (await readFile(file, 'utf8')).replace('gates: [{converged: {}}, {soak: 15m}]', `gates: ${gate}`));
    const r = await receiver();
    await withNotify(p, `{url: "${r.url}", events: [refused]}`, `{url: "${r.url.replace(/hook$/, 'slack')}", format: slack, events: [refused]}`, `{url: "${r.url.replace(/hook$/, 'ce')}", format: cloudevents, events: [refused]}`);
    const d1 = await p.push(1);
    assert.equal((await promote(p, ['to', 'dev', '--bundle', d1])).code, 0);
    const API_KEY = 'api-key-value-5f0e1d2c3b4a';
    const refused = await promote(p, ['to', 'staging'], { API_KEY });
    assert.equal(refused.code, 3, refused.stderr);
    await r.waitFor(3);
    const e = json(r.requests.find((q) => q.path === '/hook')!);
    assert.equal(e.type, 'refused');
    assert.equal(e.gates[0].type, 'http');
    assert.equal(e.gates[0].passed, false);
    assert.match(e.gates[0].summary, /403/);
    noSecrets(r.requests);
    for (const q of r.requests) assert.ok(!q.body.includes(API_KEY), q.body);
  } finally {
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  }
});
