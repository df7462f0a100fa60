// --insecure on a plain-HTTP registry when the scheme probe answers https: a start-up that blocks
// the event loop past the probe's 5 s timer makes the timer fire before the handshake's plain-text
// answer is read (issue 19's flake). In-process plain HTTP server: a transport test, no registry.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { it } from 'node:test';
import { RepositoryClient } from '../../src/oci/http/client.ts';

it('an --insecure client whose probe timed out on a plain-HTTP server (in-process fake) switches to http and gets its answer', { timeout: 20_000 }, async () => {
  const server = createServer((req, res) => res.end(req.url));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = new RepositoryClient(host, 'app', { insecure: true, timeoutMs: 10_000 });
    // Block the loop past the probe's timer: the timer phase then runs before the socket is read.
    const until = Date.now() + 5_300;
    while (Date.now() < until) { /* busy */ }
    const res = await client.send({ method: 'GET', url: client.url('tags/list') }, { access: 'pull', ok: [200], action: 'listing tags' });
    const chunks: Buffer[] = [];
    for await (const c of res.body) chunks.push(c as Buffer);
    assert.equal(Buffer.concat(chunks).toString(), '/v2/app/tags/list');
    assert.ok(res.url.startsWith('http://'), res.url);
  } finally {
    server.close();
  }
});
