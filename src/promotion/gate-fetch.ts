import { readFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { isAbsolute, resolve } from 'node:path';
import { PromoteError } from '../errors.ts';
import type { GateRequest, GateResponse } from '../pipeline/gate.ts';
import { redact } from '../redact.ts';

// The engine's GateFacts.fetch: the requests the http and metrics gates make. node:http(s)
// rather than fetch() because a gate may name its own CA (caFile), which fetch cannot take
// without a dispatcher from a package we do not ship. Every request is bounded: one timeout over
// the whole exchange, and a body cap; no redirect is followed (a gate names the URL it judges).
// Messages carry the URL redacted and never a header value: headers may hold the secrets.

const DEFAULT_MAX_BYTES = 1024 * 1024;

export async function gateFetch(url: string, request: GateRequest, where: { root: string }): Promise<GateResponse> {
  const shown = redact(url);
  let target: URL;
  try {
    target = new URL(url);
  } catch (err) {
    throw new PromoteError('GATE_UNREACHABLE', `${shown} is not a URL`, { outcome: 'refused', cause: err, hint: 'write an absolute http:// or https:// URL' });
  }
  if (target.protocol !== 'http:' && target.protocol !== 'https:') {
    throw new PromoteError('GATE_UNREACHABLE', `${shown}: only http and https are requested`, { outcome: 'refused' });
  }
  let ca: Buffer | undefined;
  if (request.caFile) {
    const file = isAbsolute(request.caFile) ? request.caFile : resolve(where.root, request.caFile);
    ca = await readFile(file).catch((err: unknown) => {
      throw new PromoteError('GATE_UNREACHABLE', `cannot read the CA file ${request.caFile} for ${shown}`, { outcome: 'refused', cause: err, hint: 'caFile is a PEM file, relative to the project root' });
    });
  }
  const maxBytes = request.maxBytes ?? DEFAULT_MAX_BYTES;
  const body = request.body === undefined ? undefined : Buffer.from(request.body, 'utf8');
  return new Promise<GateResponse>((done, fail) => {
    let settled = false;
    const finish = (err: PromoteError | undefined, value?: GateResponse) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        fail(err);
      } else done(value!);
    };
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, {
      method: request.method ?? 'GET',
      headers: { ...request.headers, ...(body && { 'content-length': String(body.length) }) },
      agent: false,
      ...(ca && { ca }),
    }, (res: IncomingMessage) => {
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > maxBytes) {
        finish(tooLarge(shown, maxBytes));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBytes) finish(tooLarge(shown, maxBytes));
        else chunks.push(chunk);
      });
      res.on('error', (err) => finish(unreachable(shown, err)));
      res.on('end', () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
        }
        finish(undefined, { status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    const timer = setTimeout(() => {
      finish(new PromoteError('GATE_TIMEOUT', `${shown} did not answer within ${request.timeoutMs / 1000}s`, { outcome: 'refused', hint: 'check that the server is up, or raise the gate\'s timeout' }));
    }, request.timeoutMs);
    req.on('error', (err) => finish(unreachable(shown, err)));
    req.end(body);
  });
}

function tooLarge(url: string, maxBytes: number): PromoteError {
  return new PromoteError('GATE_RESPONSE_TOO_LARGE', `${url} sent more than ${maxBytes} bytes`, { outcome: 'refused', hint: 'point the gate at an endpoint that answers with a small document' });
}

function unreachable(url: string, err: Error): PromoteError {
  return new PromoteError('GATE_UNREACHABLE', `cannot reach ${url}: ${redact(err.message)}`, { outcome: 'refused', cause: err, hint: 'check the URL, that the server is up, and for https its certificate (caFile)' });
}
