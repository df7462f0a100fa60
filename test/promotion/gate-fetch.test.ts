import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { isPromoteError } from '../../src/errors.ts';
import { gateFetch } from '../../src/promotion/gate-fetch.ts';

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
}

test('gateFetch returns status, lower-cased headers and the body, and sends method, headers and body', async () => {
  let seen: { method?: string; auth?: string; body: string } = { body: '' };
  const { url, server } = await serve((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      seen = { method: req.method!, auth: req.headers.authorization!, body };
      res.writeHead(201, { 'X-Ready': 'yes', 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  try {
    const r = await gateFetch(`${url}/ready`, { method: 'POST', headers: { Authorization: 'Bearer s3cret' }, body: '{"q":1}', timeoutMs: 2000 }, { root: '/' });
    assert.equal(r.status, 201);
    assert.equal(r.headers['x-ready'], 'yes');
    assert.equal(r.body, '{"ok":true}');
    assert.deepEqual(seen, { method: 'POST', auth: 'Bearer s3cret', body: '{"q":1}' });
  } finally {
    await stop(server);
  }
});

test('gateFetch: a server that does not answer in time is GATE_TIMEOUT, a closed port GATE_UNREACHABLE, a large body GATE_RESPONSE_TOO_LARGE', async () => {
  const { url, server } = await serve((req, res) => {
    if (req.url === '/slow') return; // never answers
    res.writeHead(200).end('x'.repeat(5000));
  });
  try {
    await assert.rejects(gateFetch(`${url}/slow`, { timeoutMs: 200 }, { root: '/' }), (e) => isPromoteError(e, 'GATE_TIMEOUT'));
    await assert.rejects(gateFetch(`${url}/big`, { timeoutMs: 2000, maxBytes: 1000 }, { root: '/' }), (e) => isPromoteError(e, 'GATE_RESPONSE_TOO_LARGE'));
  } finally {
    await stop(server);
  }
  await assert.rejects(gateFetch(url, { timeoutMs: 2000 }, { root: '/' }), (e) => isPromoteError(e, 'GATE_UNREACHABLE') && /ECONNREFUSED/.test(e.message));
});

test('gateFetch never shows a URL\'s credentials in its errors', async () => {
  await assert.rejects(gateFetch('http://user:hunter2@127.0.0.1:1/x?token=abc', { timeoutMs: 1000 }, { root: '/' }), (e) => {
    assert.ok(isPromoteError(e, 'GATE_UNREACHABLE'));
    assert.doesNotMatch(e.message, /hunter2|abc/);
    return true;
  });
});
