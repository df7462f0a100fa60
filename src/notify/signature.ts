import { createHmac, timingSafeEqual } from 'node:crypto';

// The HMAC a webhook's receiver checks: GitHub's scheme (`X-Hub-Signature-256`), which receivers
// and their libraries know — `sha256=` and the hex HMAC-SHA256 of the raw request body under the
// shared secret. The body carries the delivery time (`sentAt`), so a signed body cannot be
// replayed later without the receiver seeing its age.

export const SIGNATURE_HEADER = 'x-promote-signature-256';
export const TIMESTAMP_HEADER = 'x-promote-timestamp';

export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

/** Whether `header` is the signature of `body` under `secret` (constant-time comparison). */
export function verifyBody(body: string | Buffer, header: string | undefined, secret: string): boolean {
  if (!header) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
