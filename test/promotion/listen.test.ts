import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { startListener, parseListenAddress, readListenSecret, type Listener } from '../../src/promotion/listen.ts';
import { hubSignature } from '../../src/promotion/webhook-auth.ts';
import type { WebhookInterest } from '../../src/promotion/webhook-events.ts';
import { PromoteError } from '../../src/errors.ts';

// The receiver over real HTTP on 127.0.0.1, in-process, with the run loop replaced by a counter
// of wake-ups (the real CLI and registry are in listen.integration.test.ts): each refusal is
// answered 401/413 and wakes nothing; the answers and the log never say which check failed or
// what the secret is.

const SECRET = 'f3a1c0ffee-shared-secret';
const INTEREST: WebhookInterest = { repositories: ['acme/webapp'], git: [{ url: '/srv/git/ledger.git', branch: 'main', why: 'a push to the ledger branch main' }] };
const manifestPush = readFileSync(new URL('../fixtures/webhooks/distribution-manifest-push.json', import.meta.url));

interface Reply { status: number; body: string }

/** One request; resolves on the answer even when the server stops reading the body early. */
function send(url: string, init: { method?: string; path?: string; headers?: Record<string, string>; body?: Buffer | string; chunked?: boolean }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const body = init.body === undefined ? undefined : Buffer.from(init.body);
    const req = request(new URL(init.path ?? '/hooks', url), {
      method: init.method ?? 'POST',
      agent: false,
      headers: { ...init.headers, ...(body && !init.chunked && { 'content-length': String(body.length) }) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => { text += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    if (body && init.chunked) {
      // In 64 KiB pieces, so the cap is hit while streaming (no content-length to refuse early).
      for (let i = 0; i < body.length; i += 65536) req.write(body.subarray(i, i + 65536), () => {});
    } else if (body) {
      req.write(body, () => {});
    }
    req.end();
  });
}

async function withListener(body: (l: Listener, wakes: string[], log: string[]) => Promise<void>, options: { maxBodyBytes?: number; requestTimeoutMs?: number; maxConnections?: number } = {}): Promise<void> {
  const wakes: string[] = [];
  const log: string[] = [];
  const l = await startListener({ address: '127.0.0.1:0', secret: SECRET, ...options }, INTEREST, (why) => wakes.push(why), (line) => log.push(line));
  try {
    await body(l, wakes, log);
  } finally {
    await l.close();
  }
  for (const line of log) assert.ok(!line.includes(SECRET), line);
}

test('a distribution push with the right Bearer is answered 202 and wakes one pass; /healthz answers 200 without a secret (in-process receiver)', async () => {
  await withListener(async (l, wakes, log) => {
    const ok = await send(l.url, { headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' }, body: manifestPush });
    assert.equal(ok.status, 202, ok.body);
    assert.deepEqual(JSON.parse(ok.body), { wake: true, events: 1 });
    assert.deepEqual(wakes, ['a push to acme/webapp']);
    assert.match(log.join('\n'), /listen: distribution push acme\/webapp:v1 sha256:8c47de94aac0: wakes a pass/);
    const health = await send(l.url, { method: 'GET', path: '/healthz' });
    assert.deepEqual(health, { status: 200, body: 'ok\n' });
    assert.equal((await send(l.url, { method: 'GET', path: '/hooks' })).status, 405);
    assert.equal(wakes.length, 1);
  });
});

test('refusals wake nothing: no credential, a wrong Bearer, a bad HMAC, a wrong GitLab token are 401 alike; an oversized body is 413 (in-process receiver)', async () => {
  await withListener(async (l, wakes, log) => {
    const github = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', repository: { clone_url: '/srv/git/ledger.git' } }));
    const refusals: Array<[string, Parameters<typeof send>[1]]> = [
      ['no credential', { body: manifestPush }],
      ['wrong bearer', { headers: { authorization: `Bearer ${SECRET.slice(0, -1)}` }, body: manifestPush }],
      ['bearer of another length', { headers: { authorization: 'Bearer x' }, body: manifestPush }],
      ['HMAC by another secret', { headers: { 'x-github-event': 'push', 'x-hub-signature-256': hubSignature(github, 'guess') }, body: github }],
      ['HMAC of another body', { headers: { 'x-github-event': 'push', 'x-hub-signature-256': hubSignature(github, SECRET) }, body: Buffer.concat([github, Buffer.from(' ')]) }],
      ['wrong GitLab token', { headers: { 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': 'nope' }, body: github }],
    ];
    const bodies = new Set<string>();
    for (const [name, init] of refusals) {
      const r = await send(l.url, init);
      assert.equal(r.status, 401, name);
      bodies.add(r.body);
    }
    // One answer for every failed check: nothing tells a prober which one it failed.
    assert.deepEqual([...bodies], ['{"error":"unauthorized"}\n']);
    assert.deepEqual(wakes, []);
    assert.equal(log.filter((line) => /refused .*not authenticated/.test(line)).length, refusals.length);
    // The same GitHub payload, correctly signed, does wake: the refusals above were the checks.
    const good = await send(l.url, { headers: { 'x-github-event': 'push', 'x-hub-signature-256': hubSignature(github, SECRET) }, body: github });
    assert.equal(good.status, 202, good.body);
    assert.deepEqual(wakes, ['a push to the ledger branch main']);
  });
  await withListener(async (l, wakes) => {
    const big = Buffer.alloc(300 * 1024, 0x20);
    // Declared too large: refused before reading; streamed (chunked) too large: cut at the cap.
    assert.equal((await send(l.url, { headers: { authorization: `Bearer ${SECRET}` }, body: big })).status, 413);
    assert.equal((await send(l.url, { headers: { authorization: `Bearer ${SECRET}` }, body: big, chunked: true })).status, 413);
    assert.deepEqual(wakes, []);
    assert.equal((await send(l.url, { headers: { authorization: `Bearer ${SECRET}` }, body: manifestPush })).status, 202);
    assert.equal(wakes.length, 1);
  }, { maxBodyBytes: 256 * 1024 });
});

test('authenticated but not this pipeline\'s (another repository, another branch, a ping, bad JSON) is answered and wakes nothing (in-process receiver)', async () => {
  await withListener(async (l, wakes) => {
    const other = JSON.parse(manifestPush.toString('utf8'));
    other.events[0].target.repository = 'acme/other';
    const auth = { authorization: `Bearer ${SECRET}` };
    const r1 = await send(l.url, { headers: auth, body: JSON.stringify(other) });
    assert.equal(r1.status, 202);
    assert.deepEqual(JSON.parse(r1.body), { wake: false, events: 1 });
    const branch = JSON.stringify({ ref: 'refs/heads/feature', repository: { clone_url: '/srv/git/ledger.git' } });
    assert.equal((await send(l.url, { headers: { 'x-github-event': 'push', 'x-hub-signature-256': hubSignature(branch, SECRET) }, body: branch })).status, 202);
    assert.equal((await send(l.url, { headers: { ...auth, 'x-github-event': 'ping' }, body: '{"zen":"hi"}' })).status, 202);
    assert.equal((await send(l.url, { headers: auth, body: '{not json' })).status, 400);
    assert.deepEqual(wakes, []);
  });
});

test('names from a payload cannot forge log lines: control characters are replaced, lines are bounded (in-process receiver)', async () => {
  await withListener(async (l, _wakes, log) => {
    const forged = JSON.parse(manifestPush.toString('utf8'));
    forged.events[0].target.repository = `acme/x\nlisten: distribution push acme/webapp:v9: wakes a pass\r${'y'.repeat(1000)}`;
    assert.equal((await send(l.url, { headers: { authorization: `Bearer ${SECRET}` }, body: JSON.stringify(forged) })).status, 202);
    const lines = log.filter((line) => line.includes('acme/x'));
    assert.equal(lines.length, 1);
    assert.doesNotMatch(lines[0]!, /[\n\r]/);
    assert.ok(lines[0]!.length <= 400, `${lines[0]!.length} characters`);
    assert.ok(!log.some((line) => line.startsWith('listen: distribution push acme/webapp:v9')));
  });
});

test('a request that trickles in is cut off at the request timeout (in-process receiver)', async () => {
  await withListener(async (l, wakes) => {
    const { port } = new URL(l.url);
    const closed = await new Promise<number>((resolve) => {
      const t0 = Date.now();
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write(`POST /hooks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${SECRET}\r\nContent-Length: 100\r\n\r\n{`);
      });
      socket.on('data', () => {});
      socket.on('error', () => {});
      socket.on('close', () => resolve(Date.now() - t0));
    });
    assert.ok(closed < 5000, `closed after ${closed} ms`);
    assert.deepEqual(wakes, []);
  }, { requestTimeoutMs: 600 });
});

test('an attacker holding many connections open is capped: the connection over maxConnections is closed on arrival, and a webhook gets through once they are gone (in-process receiver)', async () => {
  await withListener(async (l, wakes) => {
    const port = Number(new URL(l.url).port);
    /** A socket that sends half a request head and waits; resolves with how long it stayed open. */
    const hold = () => {
      const socket = connect(port, '127.0.0.1', () => socket.write('POST /hooks HTTP/1.1\r\nHost: x\r\n'));
      socket.on('error', () => {});
      const t0 = Date.now();
      const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - t0)));
      const connected = new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      return { socket, closed, connected };
    };
    const held = Array.from({ length: 4 }, hold);
    await Promise.all(held.map((h) => h.connected));
    await new Promise((r) => setTimeout(r, 100));
    const extra = hold();
    const cut = await Promise.race([extra.closed, new Promise<number>((r) => setTimeout(() => r(Infinity), 1500))]);
    assert.ok(cut < 1500, 'the fifth connection was kept open');
    for (const h of held) assert.equal(h.socket.destroyed, false, 'a connection under the cap was closed early');
    for (const h of held) h.socket.destroy();
    await Promise.all(held.map((h) => h.closed));
    await new Promise((r) => setTimeout(r, 100));
    const reply = await send(l.url, { headers: { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' }, body: manifestPush });
    assert.equal(reply.status, 202);
    assert.equal(wakes.length, 1);
  }, { maxConnections: 4 });
});

test('huge request heads are cut off before any handler: a 64 KiB header with the right Bearer wakes nothing (in-process receiver)', async () => {
  await withListener(async (l, wakes) => {
    const port = Number(new URL(l.url).port);
    const answer = await new Promise<string>((resolve) => {
      let got = '';
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(`POST /hooks HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${SECRET}\r\nX-Padding: ${'a'.repeat(64 * 1024)}\r\nContent-Length: ${manifestPush.length}\r\n\r\n`);
        socket.write(manifestPush);
      });
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => { got += d; });
      socket.on('error', () => {});
      socket.on('close', () => resolve(got));
    });
    assert.doesNotMatch(answer, /^HTTP\/1\.1 202/);
    assert.deepEqual(wakes, []);
  });
});

test('the address is bound exactly as given and must name a host; the secret comes from the file, else PROMOTE_LISTEN_SECRET, never empty', async () => {
  assert.deepEqual(parseListenAddress('127.0.0.1:8080'), { host: '127.0.0.1', port: 8080 });
  assert.deepEqual(parseListenAddress('[::1]:9'), { host: '::1', port: 9 });
  for (const bad of [':8080', '8080', '127.0.0.1', '127.0.0.1:99999', 'http://127.0.0.1:80', '[nope]:80']) {
    assert.throws(() => parseListenAddress(bad), (err: unknown) => err instanceof PromoteError && err.code === 'LISTEN_ADDRESS_INVALID' && err.outcome === 'usage', bad);
  }
  assert.equal(await readListenSecret(undefined, { PROMOTE_LISTEN_SECRET: 'from-env' }), 'from-env');
  await assert.rejects(readListenSecret(undefined, {}), (err: unknown) => err instanceof PromoteError && err.code === 'LISTEN_SECRET_MISSING' && err.outcome === 'usage' && /--listen-secret-file/.test(err.hint ?? ''));
  await assert.rejects(readListenSecret(undefined, { PROMOTE_LISTEN_SECRET: '' }), (err: unknown) => err instanceof PromoteError && err.code === 'LISTEN_SECRET_MISSING');
  await assert.rejects(readListenSecret('/nonexistent/secret', { PROMOTE_LISTEN_SECRET: 'x' }), (err: unknown) => err instanceof PromoteError && err.code === 'LISTEN_SECRET_MISSING');
  const l = await startListener({ address: '127.0.0.1:0', secret: SECRET }, INTEREST, () => {}, () => {});
  try {
    assert.match(l.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const { port } = new URL(l.url);
    await assert.rejects(startListener({ address: `127.0.0.1:${port}`, secret: SECRET }, INTEREST, () => {}, () => {}), (err: unknown) => err instanceof PromoteError && err.code === 'LISTEN_FAILED' && /another --listen port/.test(err.hint ?? ''));
  } finally {
    await l.close();
  }
});

test('authentication bypasses are refused: a prefix, suffix or case variant of the secret, Basic, an empty header, an HMAC over the re-serialised JSON or keyed by the empty string (pure function, in-process)', async () => {
  const { authenticated } = await import('../../src/promotion/webhook-auth.ts');
  const body = Buffer.from('{"events": [ {"action":"push"} ]}');
  const reencoded = Buffer.from(JSON.stringify(JSON.parse(body.toString())));
  const refused: Record<string, string>[] = [
    { authorization: `Bearer ${SECRET.slice(0, -1)}` },
    { authorization: `Bearer ${SECRET}x` },
    { authorization: `Bearer ${SECRET.toUpperCase()}` },
    { authorization: `Basic ${Buffer.from(`x:${SECRET}`).toString('base64')}` },
    { authorization: SECRET },
    { authorization: '' },
    { 'x-gitlab-token': '' },
    { 'x-gitlab-token': `${SECRET} ` },
    { 'x-hub-signature-256': hubSignature(reencoded, SECRET) },
    { 'x-hub-signature-256': hubSignature(body, '') },
    { 'x-hub-signature-256': hubSignature(body, SECRET).slice('sha256='.length) },
    { 'x-gitea-signature': '' },
  ];
  for (const headers of refused) assert.equal(authenticated(headers, body, SECRET), false, JSON.stringify(headers));
  assert.equal(authenticated({ 'x-hub-signature-256': hubSignature(body, SECRET) }, body, SECRET), true);
  // One credential that checks is enough, whatever else is presented (it proves the secret).
  assert.equal(authenticated({ authorization: 'Bearer wrong', 'x-gitlab-token': SECRET }, body, SECRET), true);
});

test('a status report\'s push is told apart from a bundle\'s: reports:true only when every event that concerns the pipeline is a status-<stage>-<cluster> tag (in-process receiver)', async () => {
  const kinds: { why: string; reports: boolean }[] = [];
  const log: string[] = [];
  const l = await startListener({ address: '127.0.0.1:0', secret: SECRET }, INTEREST, (why, kind) => kinds.push({ why, ...kind }), (line) => log.push(line));
  const envelope = JSON.parse(manifestPush.toString('utf8')) as { events: { target: { tag?: string } }[] };
  const withTags = (...tags: string[]) => JSON.stringify({ events: tags.map((tag) => ({ ...envelope.events[0], target: { ...envelope.events[0]!.target, tag } })) });
  const headers = { authorization: `Bearer ${SECRET}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' };
  try {
    assert.equal((await send(l.url, { headers, body: withTags('status-production-eu-1') })).status, 202);
    assert.equal((await send(l.url, { headers, body: withTags('status-production-eu-2', 'v2') })).status, 202);
    assert.equal((await send(l.url, { headers, body: withTags('promotion-production') })).status, 202);
  } finally {
    await l.close();
  }
  assert.deepEqual(kinds.map((k) => k.reports), [true, false, false]);
  assert.match(log.join('\n'), /status-production-eu-1 .*a status report: wakes a pass \(at most one per report wake time\)/);
});
