import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

// Who may wake `promote run --listen`: a sender that knows the shared secret, shown the way each
// sender can show it. distribution (endpoint `headers`) and Harbor (its "auth header") send a
// fixed `Authorization: Bearer <secret>`; GitHub and Gitea/Forgejo sign the body with HMAC-SHA256
// (`X-Hub-Signature-256: sha256=<hex>`, Gitea's `X-Gitea-Signature: <hex>`); GitLab sends the
// token itself (`X-Gitlab-Token`). The caller answers every failure alike (401), so a prober
// learns nothing about which check it failed.

type Headers = Record<string, string | string[] | undefined>;

function one(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Equal in time independent of where they differ: both are hashed first, so lengths match too. */
function same(a: string | Buffer, b: string | Buffer): boolean {
  return timingSafeEqual(createHash('sha256').update(a).digest(), createHash('sha256').update(b).digest());
}

/** Whether the request proves knowledge of `secret`: one presented credential that checks is enough. */
export function authenticated(headers: Headers, body: Buffer, secret: string): boolean {
  const checks: boolean[] = [];
  const authorization = one(headers, 'authorization');
  if (authorization !== undefined) {
    const m = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    checks.push(!!m && same(m[1]!, secret));
  }
  const hmac = (): string => createHmac('sha256', secret).update(body).digest('hex');
  const hub = one(headers, 'x-hub-signature-256');
  if (hub !== undefined) checks.push(same(hub.trim().toLowerCase(), `sha256=${hmac()}`));
  for (const name of ['x-gitea-signature', 'x-forgejo-signature']) {
    const sig = one(headers, name);
    if (sig !== undefined) checks.push(same(sig.trim().toLowerCase(), hmac()));
  }
  const gitlab = one(headers, 'x-gitlab-token');
  if (gitlab !== undefined) checks.push(same(gitlab, secret));
  // Every presented credential is checked (no early exit on the first), then any one suffices.
  return checks.includes(true);
}

/** The `X-Hub-Signature-256` value for `body` (for senders and tests). */
export function hubSignature(body: Buffer | string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}
