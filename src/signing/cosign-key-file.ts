import { randomBytes, scrypt as scryptCallback, type ScryptOptions } from 'node:crypto';
import nacl from 'tweetnacl';
import { PromoteError } from '../errors.ts';

// cosign's encrypted private key file: a PEM block whose body is JSON
//   {"kdf":{"name":"scrypt","params":{"N":…,"r":8,"p":1},"salt":b64},
//    "cipher":{"name":"nacl/secretbox","nonce":b64},"ciphertext":b64}
// with PKCS#8 DER inside (secure-systems-lab/go-securesystemslib `encrypted`, as cosign calls it).
// New files use the `ENCRYPTED SIGSTORE PRIVATE KEY` label; cosign before 2.0 wrote
// `ENCRYPTED COSIGN PRIVATE KEY`. The JSON key order is Go's struct order, kept so our files
// look exactly like cosign's.

export const SIGSTORE_KEY_LABEL = 'ENCRYPTED SIGSTORE PRIVATE KEY';
export const COSIGN_KEY_LABEL = 'ENCRYPTED COSIGN PRIVATE KEY';

/** cosign's parameters since 1.x; older files use N=32768, and 131072 is accepted too. */
export const DEFAULT_SCRYPT = { N: 65536, r: 8, p: 1 } as const;
const ACCEPTED_N = new Set([32768, 65536, 131072]);

interface EncryptedKeyJson {
  kdf: { name: string; params: { N: number; r: number; p: number }; salt: string };
  cipher: { name: string; nonce: string };
  ciphertext: string;
}

function scrypt(password: Buffer, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  // scrypt needs 128·N·r bytes; Node's default maxmem (32 MiB) refuses cosign's N=65536, r=8.
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) => {
    scryptCallback(password, salt, nacl.secretbox.keyLength, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Splits a PEM document into its label and DER body; undefined when `text` has no PEM block. */
export function parsePem(text: string): { label: string; der: Buffer } | undefined {
  const m = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n?-----END \1-----/.exec(text);
  if (!m) return undefined;
  const body = m[2]!.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) return undefined;
  return { label: m[1]!, der: Buffer.from(body, 'base64') };
}

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

function formatError(source: string, why: string): PromoteError {
  return new PromoteError('KEY_FORMAT_INVALID', `private key ${source} is not a readable cosign key file: ${why}`, {
    hint: 'give a key written by `promote keygen` or `cosign generate-key-pair`, or a PKCS#8 PEM private key',
  });
}

function parseEncrypted(body: Buffer, source: string): EncryptedKeyJson {
  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    throw formatError(source, 'the PEM body is not JSON');
  }
  const j = json as Partial<EncryptedKeyJson>;
  if (j?.kdf?.name !== 'scrypt') throw formatError(source, `key derivation "${String(j?.kdf?.name)}" is not scrypt`);
  if (j.cipher?.name !== 'nacl/secretbox') throw formatError(source, `cipher "${String(j.cipher?.name)}" is not nacl/secretbox`);
  const { N, r, p } = j.kdf.params ?? ({} as { N: number; r: number; p: number });
  if (!ACCEPTED_N.has(N) || r !== 8 || p !== 1) {
    throw formatError(source, `scrypt parameters N=${N} r=${r} p=${p} are not ones cosign writes (N 32768/65536/131072, r 8, p 1)`);
  }
  if (typeof j.kdf.salt !== 'string' || typeof j.cipher.nonce !== 'string' || typeof j.ciphertext !== 'string') {
    throw formatError(source, 'salt, nonce or ciphertext is missing');
  }
  return j as EncryptedKeyJson;
}

/**
 * Decrypts a cosign encrypted key (either label) and returns the PKCS#8 DER inside. A wrong
 * password fails secretbox authentication: the error says so and never carries key bytes.
 */
export async function decryptCosignKey(pemBody: Buffer, password: string, source: string): Promise<Buffer> {
  const enc = parseEncrypted(pemBody, source);
  const salt = Buffer.from(enc.kdf.salt, 'base64');
  const nonce = Buffer.from(enc.cipher.nonce, 'base64');
  const box = Buffer.from(enc.ciphertext, 'base64');
  if (nonce.length !== nacl.secretbox.nonceLength) throw formatError(source, `nonce is ${nonce.length} bytes, not 24`);
  const key = await scrypt(Buffer.from(password, 'utf8'), salt, enc.kdf.params);
  const opened = nacl.secretbox.open(box, nonce, key);
  key.fill(0);
  if (!opened) {
    throw new PromoteError('KEY_PASSWORD_WRONG', `cannot decrypt private key ${source}: wrong password`, {
      hint: 'set the password in PROMOTE_PASSWORD (or COSIGN_PASSWORD), or run on a terminal to be asked; an empty password is the empty string',
    });
  }
  return Buffer.from(opened.buffer, opened.byteOffset, opened.byteLength);
}

/** Wraps PKCS#8 DER the way `cosign generate-key-pair` does (SIGSTORE label, N=65536). */
export async function encryptCosignKey(pkcs8Der: Uint8Array, password: string, params: { N: number; r: number; p: number } = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(32);
  const nonce = randomBytes(nacl.secretbox.nonceLength);
  const key = await scrypt(Buffer.from(password, 'utf8'), salt, params);
  const box = nacl.secretbox(pkcs8Der, nonce, key);
  key.fill(0);
  const json: EncryptedKeyJson = {
    kdf: { name: 'scrypt', params: { N: params.N, r: params.r, p: params.p }, salt: salt.toString('base64') },
    cipher: { name: 'nacl/secretbox', nonce: nonce.toString('base64') },
    ciphertext: Buffer.from(box).toString('base64'),
  };
  return toPem(SIGSTORE_KEY_LABEL, Buffer.from(JSON.stringify(json), 'utf8'));
}
