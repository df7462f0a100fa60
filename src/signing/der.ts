// Strict checks of the two encodings a classic signature travels in. Node's base64 decoder skips
// characters it does not know, and OpenSSL reports a broken DER signature the same way as a wrong
// one; checking first lets verify say "corrupted" instead of "wrong key".

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function decodeBase64Strict(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (!trimmed || !BASE64_RE.test(trimmed)) return undefined;
  return Buffer.from(trimmed, 'base64');
}

/** Reads one DER length at `at`; returns [length, next offset] or undefined. */
function readLength(der: Uint8Array, at: number): [number, number] | undefined {
  const first = der[at];
  if (first === undefined) return undefined;
  if (first < 0x80) return [first, at + 1];
  const n = first & 0x7f;
  if (n === 0 || n > 2 || at + 1 + n > der.length) return undefined;
  let len = 0;
  for (let i = 0; i < n; i++) len = (len << 8) | der[at + 1 + i]!;
  if (len < 0x80) return undefined; // non-minimal length
  return [len, at + 1 + n];
}

function readInteger(der: Uint8Array, at: number): number | undefined {
  if (der[at] !== 0x02) return undefined;
  const l = readLength(der, at + 1);
  if (!l) return undefined;
  const [len, start] = l;
  if (len === 0 || start + len > der.length) return undefined;
  if (der[start]! & 0x80) return undefined; // negative
  if (len > 1 && der[start] === 0 && !(der[start + 1]! & 0x80)) return undefined; // non-minimal
  return start + len;
}

/** True when `sig` is exactly `SEQUENCE { INTEGER r, INTEGER s }` (RFC 3279 Ecdsa-Sig-Value). */
export function isEcdsaDerSignature(sig: Uint8Array): boolean {
  if (sig[0] !== 0x30) return false;
  const l = readLength(sig, 1);
  if (!l) return false;
  const [len, start] = l;
  if (start + len !== sig.length) return false;
  const afterR = readInteger(sig, start);
  if (afterR === undefined) return false;
  return readInteger(sig, afterR) === sig.length;
}
