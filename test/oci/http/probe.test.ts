import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { RepositoryClient } from '../../../src/oci/http/client.ts';

// The --insecure probe (probe-scheme.ts) against a small TCP server standing in for a
// plain-HTTP registry: it answers a TLS ClientHello as Go's HTTP server does (a plain-text 400)
// and anything else with a 404, counting both kinds of connection.

interface CountingServer {
  host: string;
  tls: number;
  http: number;
  stop(): Promise<void>;
}

async function plainHttpRegistry(opts: { silent?: boolean } = {}): Promise<CountingServer> {
  const server: Server = createServer();
  const sockets = new Set<Socket>();
  const counts: CountingServer = {
    host: '',
    tls: 0,
    http: 0,
    async stop() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.once('data', (data: Buffer) => {
      if (data[0] === 0x16) {
        counts.tls++;
        if (!opts.silent) socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
        return;
      }
      counts.http++;
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const addr = server.address();
  counts.host = `127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  return counts;
}

async function eventually(condition: () => boolean, ms = 2000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 5))) if (condition()) return true;
  return condition();
}

test('--insecure: one probe per client, sent as the client is made, however many requests wait for it', async (t) => {
  const reg = await plainHttpRegistry();
  t.after(() => reg.stop());
  const client = new RepositoryClient(reg.host, 'acme/webapp', { insecure: true, env: {} });
  assert.ok(await eventually(() => reg.tls === 1), 'no request yet, and the handshake attempt is under way');
  const head = () => client.send({ method: 'HEAD', url: client.url('blobs/sha256:' + '0'.repeat(64)) }, { access: 'pull', ok: [200], pass: [404], action: 'checking' });
  const answers = await Promise.all([head(), head(), head()]);
  assert.deepEqual(answers.map((a) => a.status), [404, 404, 404]);
  assert.equal(reg.tls, 1, 'one TLS handshake attempt');
  assert.equal(reg.http, 3, 'then plain HTTP');
  assert.ok(answers.every((a) => a.url.startsWith(`http://${reg.host}/`)));
});

test('--insecure: requests after the probe add nothing to its socket (no listener piling up on a closed socket)', async (t) => {
  const reg = await plainHttpRegistry();
  t.after(() => reg.stop());
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const client = new RepositoryClient(reg.host, 'acme/webapp', { insecure: true, env: {} });
  for (let i = 0; i < 15; i++) {
    const res = await client.send({ method: 'HEAD', url: client.url(`blobs/sha256:${'0'.repeat(64)}`) }, { access: 'pull', ok: [200], pass: [404], action: 'checking' });
    assert.equal(res.status, 404);
  }
  await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
  assert.deepEqual(warnings, []);
  assert.equal(reg.tls, 1);
});

test('--insecure: a client made but never used does not keep the process alive while its probe waits', async (t) => {
  // A peer that takes the connection and never answers: the probe would wait for its 5 s timeout.
  const reg = await plainHttpRegistry({ silent: true });
  t.after(() => reg.stop());
  const clientModule = fileURLToPath(new URL('../../../src/oci/http/client.ts', import.meta.url));
  const script = `const { RepositoryClient } = await import(${JSON.stringify(clientModule)}); new RepositoryClient(${JSON.stringify(reg.host)}, 'acme/webapp', { insecure: true, env: {} }); setTimeout(() => {}, 100);`;
  const started = Date.now();
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'ignore', 'inherit'] });
  const [code] = (await once(child, 'exit')) as [number];
  assert.equal(code, 0);
  assert.equal(reg.tls, 1, 'the probe was sent');
  // Exiting at all before the probe's 5 s timeout is the behaviour under test; the margin is wide.
  assert.ok(Date.now() - started < 4000, `exited after ${Date.now() - started} ms`);
});
