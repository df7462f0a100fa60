// Which values an import must never write into an environment file (nor into the bundle): a
// Kubernetes Secret's data is found by bundle/secrets.ts; here are the values that look secret
// wherever they are — by the name they are kept under, by their shape (a PEM private key), or by
// their randomness (a long token). A false positive costs a secretRef the user turns back into a
// value; a false negative leaks a credential into git, so the rules lean towards the first.

/** Last word(s) of a key that name a secret: `DB_PASSWORD`, `apiKey`, `github-token`. */
const SECRET_WORDS = new Set(['password', 'passwd', 'pwd', 'secret', 'token', 'apikey', 'credential', 'credentials', 'passphrase', 'privatekey']);
const SECRET_PAIRS = new Set(['apikey', 'privatekey', 'accesskey', 'secretkey', 'clientsecret', 'authtoken', 'sessionkey', 'signingkey']);
/** Keys whose long random-looking values are public by nature (a CA bundle is a certificate). */
const PUBLIC_KEYS = new Set(['cabundle', 'certificate', 'cert', 'crt', 'publickey']);

const PEM_PRIVATE_KEY = /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----/;
const TOKEN_CHARS = /^[A-Za-z0-9+/_=.-]+$/;
const MIN_TOKEN_LENGTH = 32;
/** Bits per character: a lowercase hex digest has at most 4; random base64 of 32 bytes ≈ 5. */
const MIN_TOKEN_ENTROPY = 4.2;

/** `DB_PASSWORD` → [db, password]; `apiKey` → [api, key]. */
function words(key: string): string[] {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => w.toLowerCase());
}

function entropy(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= (n / s.length) * Math.log2(n / s.length);
  return bits;
}

/** Why `value`, kept under `key` (a mapping key, or the `name` of an env entry), looks secret; undefined if it does not. */
export function secretReason(key: string | undefined, value: unknown): string | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  const w = key === undefined ? [] : words(key);
  const last = w.at(-1) ?? '';
  const pair = w.slice(-2).join('');
  if (PUBLIC_KEYS.has(last) || PUBLIC_KEYS.has(pair)) return undefined;
  if (SECRET_WORDS.has(last) || SECRET_PAIRS.has(pair)) return `kept under "${key}"`;
  if (PEM_PRIVATE_KEY.test(value)) return 'a PEM private key';
  if (value.length >= MIN_TOKEN_LENGTH && TOKEN_CHARS.test(value) && /[A-Z]/.test(value) && /[a-z]/.test(value) && /[0-9]/.test(value) && entropy(value) >= MIN_TOKEN_ENTROPY) {
    return 'a long random-looking string (a token?)';
  }
  return undefined;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The key a child of `parent` is judged by: an env entry's `value` by the entry's `name`. */
export function secretKeyFor(parent: Record<string, unknown>, key: string): string {
  return key === 'value' && typeof parent.name === 'string' ? parent.name : key;
}

export interface SecretFound {
  /** JSON pointer relative to the value searched. */
  pointer: string;
  reason: string;
  /** The key it was judged by (a mapping key, an env entry's name). */
  key?: string;
}

/** The first secret-looking value inside `value` (`key` is what `value` itself is kept under). */
export function findSecret(value: unknown, key: string | undefined, pointer = ''): SecretFound | undefined {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findSecret(value[i], key, `${pointer}/${i}`);
      if (found) return found;
    }
    return undefined;
  }
  if (isObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      const found = findSecret(v, secretKeyFor(value, k), `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
      if (found) return found;
    }
    return undefined;
  }
  const reason = secretReason(key, value);
  return reason === undefined ? undefined : { pointer, reason, ...(key !== undefined && { key }) };
}
