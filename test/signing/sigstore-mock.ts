import { generateKeyPairSync, createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fulcioHandler, initializeCA, initializeCTLog, initializeTLog, initializeTSA, rekorHandler, tsaHandler, type HandlerFn } from '@sigstore/mock';
import { bundleToJSON, type SerializedBundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness, TSAWitness } from '@sigstore/sign';
import { parseTrustedRoot, type TrustedRoot } from '../../src/signing/trusted-root.ts';

// A private Sigstore for keyless tests: @sigstore/mock's CA (with CT log), transparency log and
// timestamp authority served by node:http on 127.0.0.1 — real HTTP, no nock, no network.
// Quirks (SIGNING-NOTES.md): the OIDC token needs email_verified; Rekor `dsse` entries fail
// against the mock, `intoto` works; clocks must be whole seconds or ~1 run in 10 fails.

export const MOCK_ISSUER = 'https://oidc.mock.example';

export interface MockSigstore {
  url: string;
  trustedRoot: TrustedRoot;
  /** The trusted root as JSON (for --trusted-root files). */
  trustedRootJson: unknown;
  /** Signs DSSE `payload` keylessly as `email` and returns the bundle JSON. */
  signDsse(payload: Buffer, payloadType: string, email: string): Promise<SerializedBundle>;
  stop(): Promise<void>;
}

function unsignedJwt(claims: Record<string, unknown>): string {
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64(claims)}.`;
}

const ec = () => generateKeyPairSync('ec', { namedCurve: 'P-256' });

export async function startMockSigstore(): Promise<MockSigstore> {
  const clock = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000);
  const ctLog = await initializeCTLog(ec(), clock);
  const ca = await initializeCA(ec(), ctLog, clock);
  const tsa = await initializeTSA(ec(), clock);
  const routes = new Map<string, HandlerFn>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const handler = req.method === 'POST' ? routes.get((req.url ?? '').split('?')[0]!) : undefined;
      if (!handler) {
        res.writeHead(404).end('not found');
        return;
      }
      handler(Buffer.concat(chunks).toString('utf8')).then(
        ({ statusCode, response, contentType }) => {
          res.writeHead(statusCode, { 'content-type': contentType ?? 'text/plain' });
          res.end(typeof response === 'string' ? response : Buffer.from(response.buffer, response.byteOffset, response.byteLength));
        },
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tlog = await initializeTLog(url, ec(), clock);
  for (const h of [fulcioHandler(ca), rekorHandler(tlog), tsaHandler(tsa)]) routes.set(h.path, h.fn);

  const start = '2000-01-01T00:00:00Z';
  const b64 = (v: ArrayBufferView | Buffer) => Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64');
  const trustedRootJson = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{
      baseUrl: url,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(tlog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
      logId: { keyId: createHash('sha256').update(tlog.publicKey).digest('base64') },
    }],
    certificateAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'sigstore' },
      uri: url,
      certChain: { certificates: [{ rawBytes: b64(ca.rootCertificate) }] },
      validFor: { start },
    }],
    ctlogs: [{
      baseUrl: url,
      hashAlgorithm: 'SHA2_256',
      publicKey: { rawBytes: b64(ctLog.publicKey), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start } },
      logId: { keyId: b64(ctLog.logID) },
    }],
    timestampAuthorities: [{
      subject: { organization: 'sigstore.mock', commonName: 'tsa' },
      uri: url,
      certChain: { certificates: [{ rawBytes: b64(tsa.intCertificate) }, { rawBytes: b64(tsa.rootCertificate) }] },
      validFor: { start },
    }],
  };

  return {
    url,
    trustedRoot: parseTrustedRoot(trustedRootJson, 'mock'),
    trustedRootJson,
    async signDsse(payload, payloadType, email) {
      const token = unsignedJwt({ iss: MOCK_ISSUER, sub: email, email, email_verified: true, aud: 'sigstore', iat: Math.floor(Date.now() / 1000), exp: Math.floor(Date.now() / 1000) + 600 });
      const signer = new FulcioSigner({ fulcioBaseURL: url, identityProvider: { getToken: async () => token } });
      const builder = new DSSEBundleBuilder({
        signer,
        witnesses: [new RekorWitness({ rekorBaseURL: url, entryType: 'intoto' }), new TSAWitness({ tsaBaseURL: url })],
      });
      return bundleToJSON(await builder.create({ data: payload, type: payloadType }));
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
