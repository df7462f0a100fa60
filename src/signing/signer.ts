import { createPublicKey, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { keyHint, readSigningKey } from './keys.ts';
import { getPassword, type PasswordOptions } from './password.ts';

// The signing seam (DESIGN.md §7): one method. A KMS or keyless signer can implement it later;
// today there is one implementation, a local ECDSA P-256 key.

export interface Signer {
  /** SPKI PEM of the key that verifies this signer's signatures. */
  readonly publicKeyPem: string;
  /** base64(sha256(SPKI DER)). */
  readonly hint: string;
  /** ECDSA-SHA256 over `data`, ASN.1 DER encoded (what cosign and DSSE carry). */
  sign(data: Uint8Array): Promise<Buffer>;
}

export class LocalKeySigner implements Signer {
  readonly publicKeyPem: string;
  readonly hint: string;
  readonly #key: KeyObject;

  constructor(privateKey: KeyObject) {
    this.#key = privateKey;
    const pub = createPublicKey(privateKey);
    this.publicKeyPem = pub.export({ type: 'spki', format: 'pem' }).toString();
    this.hint = keyHint(pub);
  }

  async sign(data: Uint8Array): Promise<Buffer> {
    return cryptoSign('sha256', data, { key: this.#key, dsaEncoding: 'der' });
  }

  /** Keeps the private key out of console.log / util.inspect / JSON. */
  toJSON(): unknown {
    return { type: 'LocalKeySigner', hint: this.hint };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `LocalKeySigner { hint: '${this.hint}' }`;
  }
}

/** Loads a key file (cosign encrypted or PKCS#8) into a signer, asking for the password if needed. */
export async function loadSigner(keyPath: string, passwords: PasswordOptions): Promise<LocalKeySigner> {
  const key = await readSigningKey(keyPath, (path) => getPassword(`private key ${path}`, passwords));
  return new LocalKeySigner(key);
}
