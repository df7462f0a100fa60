import { PromoteError } from '../../errors.ts';

// Connection-level failures (refused, reset, TLS, DNS, the overall deadline) as the errors a
// user sees — naming the registry and the next step — and which of them a retry may cure.

/** Error code of a request that ran past its deadline (never retried: the time is spent). */
export const DEADLINE = 'PROMOTE_DEADLINE';

const RETRYABLE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ERR_STREAM_PREMATURE_CLOSE']);

function errorCode(err: unknown): string | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isRetryableNetworkError(err: unknown): boolean {
  const code = errorCode(err);
  return code !== undefined && RETRYABLE_CODES.has(code);
}

const TLS_CODES = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_|HOSTNAME|ERR_TLS/;

/** Turns a connection-level failure into a message naming the registry and the next step. */
export function networkError(err: unknown, url: string, insecure: boolean): PromoteError {
  const code = errorCode(err) ?? '';
  const { host, origin } = new URL(url);
  const details = { url: origin, code };
  if (code === DEADLINE) {
    return new PromoteError('REGISTRY_TIMEOUT', `the registry at ${origin} did not finish answering within ${(err as Error).message.replace(/^.*within /, '')}`, {
      cause: err,
      details,
      hint: 'the registry (or a proxy in front of it) is stalled or very slow; retry later, or allow more time with --timeout or PROMOTE_REGISTRY_TIMEOUT (e.g. 15m)',
    });
  }
  if (TLS_CODES.test(code)) {
    const plainHttp = code === 'ERR_SSL_WRONG_VERSION_NUMBER' || code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG';
    return new PromoteError('REGISTRY_TLS', `TLS handshake with the registry at ${host} failed (${code})`, {
      cause: err,
      details,
      hint: plainHttp
        ? 'the registry speaks plain HTTP: use --insecure (only for registries you trust on the network path)'
        : 'if the registry uses a private CA, pass its certificate with --ca-file <pem>; --insecure skips verification (test registries only)',
    });
  }
  const why = code === 'ECONNREFUSED' ? 'connection refused'
    : code === 'ENOTFOUND' || code === 'EAI_AGAIN' ? 'host name not found'
    : code.includes('TIMEOUT') || code === 'ETIMEDOUT' ? 'connection timed out'
    : code === 'ECONNRESET' ? 'connection reset'
    : (err as Error)?.message ?? String(err);
  return new PromoteError('REGISTRY_UNREACHABLE', `registry unreachable at ${origin}: ${why}`, {
    cause: err,
    details,
    hint: insecure
      ? 'check the host and port and that the registry is running'
      : 'check the host and port and that the registry is running; for a plain-HTTP registry use --insecure, for a private CA --ca-file <pem>',
  });
}
