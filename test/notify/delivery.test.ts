import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newEvent, type NotifyEvent } from '../../src/notify/event.ts';
import { sendEvents, type Webhook } from '../../src/notify/notifier.ts';
import { MAX_AGE_MS, Outbox, webhookKey } from '../../src/notify/outbox.ts';
import { verifyBody, SIGNATURE_HEADER, TIMESTAMP_HEADER } from '../../src/notify/signature.ts';
import { closedPort, startReceiver } from './receiver.ts';

// notify/'s delivery against a real HTTP receiver on 127.0.0.1: signing, retries with backoff,
// the outbox when a receiver is down, and its bounds.

let base: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'promote-notify-'));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

const FAST = { attempts: 4, timeoutMs: 2000, backoffMs: 50 };
const event = (type: NotifyEvent['type'] = 'promoted') => newEvent({ type, pipeline: 'webapp', stage: 'dev', bundle: `sha256:${'a'.repeat(64)}`, by: 'Pat <pat@example.com>', summary: 'webapp: Pat promoted sha256:aaaa… to dev' });

async function run(events: NotifyEvent[], webhooks: Webhook[], dir: string, warnings: string[] = []) {
  return sendEvents(events, { webhooks, outbox: new Outbox(dir), warn: (m) => warnings.push(m), retry: FAST, budgetMs: 5000 });
}

test('a signed delivery verifies with the secret and carries its timestamp in header and body', async () => {
  const r = await startReceiver();
  try {
    const e = event();
    const report = await run([e], [{ url: r.url, format: 'json', secret: async () => 'hmac-key-1' }], join(base, 'signed'));
    assert.deepEqual(report, { delivered: 1, queued: 0, dropped: 0 });
    const [got] = r.requests;
    assert.ok(verifyBody(got!.body, got!.headers[SIGNATURE_HEADER] as string, 'hmac-key-1'));
    assert.equal(verifyBody(got!.body, got!.headers[SIGNATURE_HEADER] as string, 'another-key'), false);
    assert.equal(verifyBody(`${got!.body} `, got!.headers[SIGNATURE_HEADER] as string, 'hmac-key-1'), false);
    const body = JSON.parse(got!.body);
    assert.equal(body.id, e.id);
    assert.equal(Math.floor(Date.parse(body.sentAt) / 1000), Number(got!.headers[TIMESTAMP_HEADER]));
    assert.equal(got!.headers['x-promote-delivery'], e.id);
    assert.equal(got!.headers['x-promote-event'], 'promoted');
    assert.ok(!got!.body.includes('hmac-key-1'));
  } finally {
    await r.stop();
  }
});

test('a receiver that fails twice (503, 500) gets the event on the third attempt, with the same id and a fresh signature', async () => {
  const r = await startReceiver();
  try {
    r.fail(503, 500);
    const dir = join(base, 'retry');
    const report = await run([event()], [{ url: r.url, format: 'cloudevents', secret: async () => 'k' }], dir);
    assert.deepEqual(report, { delivered: 1, queued: 0, dropped: 0 });
    assert.equal(r.requests.length, 3);
    assert.equal(new Set(r.requests.map((q) => JSON.parse(q.body).id)).size, 1);
    for (const q of r.requests) assert.ok(verifyBody(q.body, q.headers[SIGNATURE_HEADER] as string, 'k'));
    // Backoff: the attempts are spaced, not fired back to back.
    assert.ok(r.requests[2]!.at - r.requests[0]!.at >= 50, `${r.requests[2]!.at - r.requests[0]!.at} ms`);
    assert.deepEqual(await readdir(dir).catch(() => []), []);
  } finally {
    await r.stop();
  }
});

test('a receiver that is down: the event waits in the outbox (no body, no secret stored) and the next call delivers it first', async () => {
  const port = await closedPort();
  const url = `http://127.0.0.1:${port}/services/T000/B000/SLACKPATHSECRET`;
  const dir = join(base, 'down');
  const warnings: string[] = [];
  const first = event('held');
  const behind = event('released');
  const started = Date.now();
  const report = await run([first, behind], [{ url, format: 'slack', secret: async () => 'stored-nowhere' }], dir, warnings);
  assert.ok(Date.now() - started < 5000);
  // One round of retries for the receiver; the event behind the failed one waits untried.
  assert.deepEqual(report, { delivered: 0, queued: 2, dropped: 0 });
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /held event for http:\/\/127\.0\.0\.1:\d+\/… not delivered after 4 attempts: cannot reach/);
  assert.ok(!warnings[0]!.includes('SLACKPATHSECRET'));
  const files = await readdir(dir);
  assert.equal(files.length, 2);
  const stored = (await Promise.all(files.map((f) => readFile(join(dir, f), 'utf8')))).join('\n');
  assert.ok(!stored.includes('SLACKPATHSECRET') && !stored.includes('stored-nowhere'), stored);
  assert.ok(stored.includes(webhookKey(url)));

  const r = await startReceiver(port);
  try {
    const second = event('held');
    const again = await run([second], [{ url, format: 'slack', secret: async () => 'stored-nowhere' }], dir);
    assert.deepEqual(again, { delivered: 3, queued: 0, dropped: 0 });
    assert.deepEqual(r.requests.map((q) => JSON.parse(q.body).metadata.event_payload.id), [first.id, behind.id, second.id]);
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await r.stop();
  }
});

test('a configured secret that cannot be read sends nothing unsigned: the event is kept', async () => {
  const r = await startReceiver();
  try {
    const warnings: string[] = [];
    const report = await run([event()], [{ url: r.url, format: 'json', secret: async () => { throw new Error('secret from env PROMOTE_WEBHOOK_SECRET is not set'); } }], join(base, 'nosecret'), warnings);
    assert.deepEqual(report, { delivered: 0, queued: 1, dropped: 0 });
    assert.equal(r.requests.length, 0);
    assert.match(warnings[0]!, /PROMOTE_WEBHOOK_SECRET is not set/);
  } finally {
    await r.stop();
  }
});

test('the outbox drops entries past its age, entries for a webhook the pipeline no longer has, and files it cannot parse', async () => {
  const r = await startReceiver();
  const dir = join(base, 'bounds');
  try {
    const box = new Outbox(dir);
    const old = event();
    await box.put({ event: old, webhook: webhookKey(r.url), queuedAt: new Date(Date.now() - MAX_AGE_MS - 60_000).toISOString(), attempts: 3, lastError: 'x' });
    await box.put({ event: event(), webhook: webhookKey('http://127.0.0.1:1/gone'), queuedAt: new Date().toISOString(), attempts: 1, lastError: 'x' });
    await writeFile(join(dir, 'junk.json'), '{not json');
    const warnings: string[] = [];
    const report = await run([], [{ url: r.url, format: 'json' }], dir, warnings);
    assert.deepEqual(report, { delivered: 0, queued: 0, dropped: 2 });
    assert.equal(r.requests.length, 0);
    assert.deepEqual(await readdir(dir), []);
  } finally {
    await r.stop();
  }
});

test('an outbox entry another user could have written is not sent (it would be signed with the webhook key)', async () => {
  const r = await startReceiver();
  const dir = join(base, 'foreign');
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const forged = { event: { ...event(), summary: 'forged' }, webhook: webhookKey(r.url), queuedAt: new Date().toISOString(), attempts: 1, lastError: '' };
    await writeFile(join(dir, 'forged.json'), JSON.stringify(forged), { mode: 0o666 });
    const { chmod } = await import('node:fs/promises');
    await chmod(join(dir, 'forged.json'), 0o666);
    const report = await run([], [{ url: r.url, format: 'json', secret: async () => 'k' }], dir);
    assert.equal(report.delivered, 0);
    assert.equal(r.requests.length, 0);
  } finally {
    await r.stop();
  }
});

test('events reach only the webhooks that list them; a 400 is not retried', async () => {
  const a = await startReceiver();
  const b = await startReceiver();
  try {
    b.fail(400);
    const report = await run([event('promoted'), event('agent-degraded')], [{ url: a.url, format: 'json', events: ['agent-degraded'] }, { url: b.url, format: 'json', events: ['promoted'] }], join(base, 'filter'));
    assert.deepEqual(a.requests.map((q) => JSON.parse(q.body).type), ['agent-degraded']);
    assert.equal(b.requests.length, 1);
    assert.deepEqual(report, { delivered: 1, queued: 1, dropped: 0 });
  } finally {
    await a.stop();
    await b.stop();
  }
});

test('the HMAC covers exactly the bytes sent: a summary with multi-byte characters, a lone surrogate and markup verifies over the raw body, whose length is the content-length', async () => {
  const r = await startReceiver();
  try {
    const e = newEvent({ type: 'refused', pipeline: 'webapp', stage: 'dev', by: 'Zoë <z@example.com>', summary: 'webapp: refusé ✓ 🚀 \ud800 <!channel> & "quotes"' });
    for (const format of ['json', 'slack', 'cloudevents'] as const) {
      await run([e], [{ url: r.url, format, secret: async () => 'hmac-key-2' }], join(base, `bytes-${format}`));
    }
    assert.equal(r.requests.length, 3);
    for (const got of r.requests) {
      const raw = Buffer.from(got.body, 'utf8');
      assert.equal(raw.length, Number(got.headers['content-length']));
      assert.ok(verifyBody(raw, got.headers[SIGNATURE_HEADER] as string, 'hmac-key-2'), got.body);
      if (got.body.includes('"blocks"')) assert.ok(!got.body.includes('<!channel>'), 'Slack markup from a summary is escaped');
    }
  } finally {
    await r.stop();
  }
});

test('a webhook URL\'s credentials and Slack-style secret path never reach a warning or the outbox: refused (404) and unreachable receivers alike', async () => {
  const r = await startReceiver();
  const dir = join(base, 'url-secrets');
  const warnings: string[] = [];
  try {
    r.fail(404);
    const answering = `http://hook-user:PW-hunter2-secret@127.0.0.1:${r.port}/services/T000/B000/PATHSECRETxyz?token=QUERYSECRET`;
    const down = `http://hook-user:PW-hunter2-secret@127.0.0.1:${await closedPort()}/services/T111/B111/PATHSECRETabc`;
    await run([event()], [{ url: answering, format: 'slack' }, { url: down, format: 'slack' }], dir, warnings);
    assert.equal(r.requests.length, 1);
    assert.ok(warnings.length >= 2, warnings.join('\n'));
    const stored = (await Promise.all((await readdir(dir)).map((n) => readFile(join(dir, n), 'utf8')))).join('\n');
    for (const text of [...warnings, stored]) {
      for (const secret of ['PW-hunter2', 'PATHSECRET', 'QUERYSECRET', 'T000', 'B111']) assert.ok(!text.includes(secret), `${secret} in: ${text}`);
    }
  } finally {
    await r.stop();
  }
});

test('a symlink in the outbox to an entry written elsewhere is not sent', async () => {
  const r = await startReceiver();
  const dir = join(base, 'symlinked');
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const elsewhere = join(base, 'elsewhere.json');
    await writeFile(elsewhere, JSON.stringify({ event: { ...event(), summary: 'forged' }, webhook: webhookKey(r.url), queuedAt: new Date().toISOString(), attempts: 1, lastError: '' }), { mode: 0o600 });
    const { symlink } = await import('node:fs/promises');
    await symlink(elsewhere, join(dir, 'linked.json'));
    const report = await run([], [{ url: r.url, format: 'json', secret: async () => 'k' }], dir);
    assert.equal(report.delivered, 0);
    assert.equal(r.requests.length, 0);
  } finally {
    await r.stop();
  }
});
