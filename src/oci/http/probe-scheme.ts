import { isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';

// --insecure means what it means to docker and skopeo: HTTPS without certificate verification,
// and plain HTTP when the registry does not speak TLS at all (transport.ts). This decides which,
// by a bare TLS handshake: no HTTP request, so nothing shows up in the registry's logs.

export interface SchemeProbe {
  scheme: Promise<'http' | 'https'>;
  /** Keeps the process alive until the probe is done (call it when waiting for the answer). */
  ref(): void;
}

/**
 * For --insecure: does `host` speak TLS? A handshake that fails because the peer answered in
 * plain text means HTTP; anything else (including unreachable) keeps HTTPS so the real request
 * reports the real error. Each registry client asks once, as soon as it is made (not once per
 * process: a port can be reused by a different server, as tests do).
 */
export function probeScheme(host: string): SchemeProbe {
  const url = new URL(`https://${host}`);
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const socket = tlsConnect({
    host: hostname,
    port: Number(url.port || 443),
    rejectUnauthorized: false,
    // Nothing is verified here, so no trust store is needed: without this, the context loads
    // and parses Node's bundled root certificates (~2 ms of every --insecure start-up).
    ca: [],
    ...(isIP(hostname) === 0 && { servername: hostname }),
  });
  // Started as soon as a client is made, so its round trip overlaps other start-up work; a client
  // that is never used (a command failing first) must not keep the process alive for it.
  socket.unref();
  let settled = false;
  const scheme = new Promise<'http' | 'https'>((resolve) => {
    const done = (answer: 'http' | 'https') => {
      settled = true;
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(5_000, () => done('https'));
    socket.once('secureConnect', () => done('https'));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      const plain = /WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST|UNKNOWN_PROTOCOL|EPROTO/.test(err.code ?? '') || err.code === 'ECONNRESET';
      done(plain ? 'http' : 'https');
    });
  });
  // Only while it waits: ref() on a destroyed socket queues a 'connect' listener that never fires.
  return { scheme, ref: () => { if (!settled) socket.ref(); } };
}
