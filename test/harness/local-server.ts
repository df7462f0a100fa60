import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { testTlsMaterial } from './registry.ts';

// A real HTTP(S) server on 127.0.0.1 that a test starts and stops: what a gate calls. With
// `tls`, its certificate is signed by the harness's test CA (the registry's, `caCert`).

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface LocalServer {
  url: string;
  /** The CA (PEM) that signs the server's certificate, with `tls`. */
  caCert?: string;
  /** Every request received, in order. */
  requests: SeenRequest[];
  stop(): Promise<void>;
}

/** The handler sees the whole request body; a handler that never answers makes a server that hangs. */
export type Handler = (req: SeenRequest, res: ServerResponse) => void;

export async function startLocalServer(handler: Handler, options: { tls?: boolean } = {}): Promise<LocalServer> {
  const requests: SeenRequest[] = [];
  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') };
      requests.push(seen);
      handler(seen, res);
    });
  };
  const tls = options.tls ? await testTlsMaterial() : undefined;
  const server = tls ? createHttpsServer({ cert: tls.serverCert, key: tls.serverKey }, onRequest) : createHttpServer(onRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    ...(tls && { caCert: tls.caCert }),
    requests,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port on 127.0.0.1 nothing listens on (it was free a moment ago): an unreachable server. */
export async function closedPort(): Promise<number> {
  const server = createHttpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Answers JSON with the status. */
export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
