// Secrets that ride along inside text promote prints or stores: credentials in URLs
// (`https://user:TOKEN@host/…`, or a token as the user name, GitHub's convention), HTTP
// Authorization values, and query parameters that carry a token or signature. Messages are
// built from URLs the user configured and from what git and registries say back (git quotes
// the URL it failed to reach), so every boundary where text leaves the process runs it through
// `redact` — where messages are built, and once more where the CLI and the agent print them.

const URL_USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^/\s@'"<>]+)@/gi;
const AUTHORIZATION_HEADER = /(authorization["']?\s*[:=]\s*["']?)(?:(Bearer|Basic|token) +)?[^\s"',]+/gi;
const BEARER = /\bBearer +[A-Za-z0-9._~+/-]{16,}=*/g;
const SECRET_QUERY = /([?&](?:access_token|refresh_token|id_token|token|password|passwd|secret|client_secret|sig|signature|X-Amz-Signature|X-Amz-Credential|X-Goog-Signature)=)[^&\s'"<>#]+/gi;

/** The shown form of a URL's userinfo: the user name when a password follows it, nothing otherwise for http(s). */
function maskUserinfo(scheme: string, userinfo: string): string {
  const colon = userinfo.indexOf(':');
  if (colon >= 0) return `${userinfo.slice(0, colon)}:***`;
  // ssh://git@host: a user name and no secret; on http(s) a lone user name is usually a token.
  return /^https?:\/\/$/i.test(scheme) ? '***' : userinfo;
}

/** `text` with every credential-looking part replaced by `***`. */
export function redact(text: string): string {
  if (!text) return text;
  return text
    .replace(URL_USERINFO, (_m, scheme: string, userinfo: string) => `${scheme}${maskUserinfo(scheme, userinfo)}@`)
    .replace(AUTHORIZATION_HEADER, (_m, key: string, scheme: string | undefined) => `${key}${scheme ? `${scheme} ` : ''}***`)
    .replace(BEARER, 'Bearer ***')
    .replace(SECRET_QUERY, (_m, key: string) => `${key}***`);
}

/** A copy of a JSON-like value with every string in it redacted (for --output json, logs, details). */
export function redactDeep<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return redact(value) as T;
  if (depth > 32 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => redactDeep(v, depth + 1)) as T;
  if (Object.getPrototypeOf(value) !== Object.prototype && Object.getPrototypeOf(value) !== null) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = redactDeep(v, depth + 1);
  return out as T;
}

/**
 * A copy of a JSON-like value with every occurrence of each known secret value (one promote read
 * itself, e.g. a gate's bearer token) replaced by `***`: what a server echoes back may carry it
 * in a form `redact` does not recognise. Longest first, so a secret inside another leaves no part
 * of the longer one behind.
 */
export function scrubSecrets<T>(value: T, secrets: readonly string[]): T {
  const known = [...new Set(secrets.filter(Boolean))].sort((a, b) => b.length - a.length);
  return known.length ? scrubDeep(value, known) : value;
}

// No depth limit, unlike redactDeep: what is scrubbed is evidence promote built itself, and a
// part left unscrubbed would carry the secret on.
function scrubDeep<T>(value: T, secrets: readonly string[]): T {
  if (typeof value === 'string') return secrets.reduce((text, secret) => text.split(secret).join('***'), value as string) as T;
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => scrubDeep(v, secrets)) as T;
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrubDeep(v, secrets)])) as T;
}

export interface UrlCredential {
  /** The URL without its userinfo: what may be shown, stored and hashed. */
  url: string;
  username: string;
  password: string;
}

/**
 * Splits the credentials off an http(s) URL (`https://user:TOKEN@host/x.git` → the URL without
 * them, plus the decoded user name and password), or undefined when it carries none. Other
 * schemes (ssh://git@host) are left alone: their user name is no secret.
 */
export function splitUrlCredential(raw: string): UrlCredential | undefined {
  if (!/^https?:\/\//i.test(raw)) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return undefined;
  }
  if (!url.username && !url.password) return undefined;
  const username = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  return { url: url.href, username, password };
}
