import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PromoteError } from '../errors.ts';
import { COSIGN_KEY_LABEL, decryptCosignKey, parsePem, SIGSTORE_KEY_LABEL } from './cosign-key-file.ts';
import { verificationFailed } from './verification-error.ts';

// Key files: what we read, what we write, and which key types verify or sign.
// Verifying accepts what `cosign verify --key` accepts (sigstore/sigstore LoadVerifier with
// SHA-256): ECDSA P-256/P-384/P-521, RSA ≥ 2048 bits (PKCS#1 v1.5), Ed25519. Signing uses
// ECDSA P-256 only — cosign's default and the one key type every Sigstore verifier takes.

export type KeyAlgorithm = 'ecdsa-p256' | 'ecdsa-p384' | 'ecdsa-p521' | 'rsa' | 'ed25519';

export interface VerificationKey {
  key: KeyObject;
  algorithm: KeyAlgorithm;
  /** SPKI PEM, as written in `.pub` files. */
  pem: string;
  /** base64(sha256(SPKI DER)): the key id cosign and Sigstore bundles use. */
  hint: string;
  /** Where the key came from (a path, or "inline"), for messages. */
  source: string;
}

export function keyHint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('base64');
}

/** The algorithm of a key, or a reason it is not one we can use. */
function classify(key: KeyObject): KeyAlgorithm | string {
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return 'ecdsa-p256';
      if (curve === 'secp384r1') return 'ecdsa-p384';
      if (curve === 'secp521r1') return 'ecdsa-p521';
      return `ECDSA on curve ${curve ?? 'unknown'}`;
    }
    case 'rsa': {
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      return bits >= 2048 ? 'rsa' : `RSA with ${bits} bits`;
    }
    case 'ed25519':
      return 'ed25519';
    default:
      return String(key.asymmetricKeyType ?? 'unknown').toUpperCase();
  }
}

/** Hash for `crypto.verify`/`sign`: SHA-256 everywhere (as cosign), none for Ed25519 (pure). */
export function digestAlgorithmFor(algorithm: KeyAlgorithm): 'sha256' | null {
  return algorithm === 'ed25519' ? null : 'sha256';
}

function unsupportedVerifyKey(source: string, what: string): PromoteError {
  return verificationFailed(
    'key-type',
    `public key ${source} is ${what}, which promote cannot verify with`,
    'use an ECDSA P-256/P-384/P-521, RSA (≥ 2048 bits) or Ed25519 public key in PEM (SPKI) form, e.g. one from `promote keygen` or `cosign generate-key-pair`',
    { key: source, keyType: what },
  );
}

/** Parses a PEM public key (SPKI, or a certificate whose key is used) for verification. */
export function parseVerificationKey(pem: string, source = 'inline'): VerificationKey {
  const block = parsePem(pem);
  if (!block) {
    throw new PromoteError('KEY_FORMAT_INVALID', `public key ${source} is not a PEM file`, {
      outcome: 'verification',
      hint: 'give the `.pub` file written by `promote keygen` or `cosign generate-key-pair` (-----BEGIN PUBLIC KEY-----)',
    });
  }
  if (/PRIVATE KEY/.test(block.label)) {
    throw new PromoteError('KEY_FORMAT_INVALID', `${source} is a private key; verification takes the public key`, {
      outcome: 'usage',
      hint: 'pass the matching `.pub` file to --key; keep the private key out of verification configs',
    });
  }
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: 'pem' });
  } catch (err) {
    throw unsupportedVerifyKey(source, `a "${block.label}" PEM block Node cannot parse (${(err as Error).message})`);
  }
  const algorithm = classify(key);
  if (!isAlgorithm(algorithm)) throw unsupportedVerifyKey(source, algorithm);
  return {
    key,
    algorithm,
    pem: key.export({ type: 'spki', format: 'pem' }).toString(),
    hint: keyHint(key),
    source,
  };
}

function isAlgorithm(a: string): a is KeyAlgorithm {
  return a === 'ecdsa-p256' || a === 'ecdsa-p384' || a === 'ecdsa-p521' || a === 'rsa' || a === 'ed25519';
}

export async function readVerificationKey(path: string): Promise<VerificationKey> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PromoteError('KEY_NOT_FOUND', `cannot read public key ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      outcome: 'usage',
      hint: 'check the path given to --key (the `.pub` file from `promote keygen`)',
      cause: err,
    });
  }
  return parseVerificationKey(text, path);
}

/** Asks for a password only when the key file is encrypted. */
export type PasswordSource = (keyPath: string) => Promise<string>;

/**
 * Reads a private key for signing: cosign's encrypted formats (both labels) or a plain PKCS#8
 * PEM (`PRIVATE KEY`, or SEC1 `EC PRIVATE KEY`). Only ECDSA P-256 keys sign.
 */
export async function readSigningKey(path: string, password: PasswordSource): Promise<KeyObject> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new PromoteError('KEY_NOT_FOUND', `cannot read private key ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, {
      outcome: 'usage',
      hint: 'check the path given to --key, or create a key pair with `promote keygen <name>`',
      cause: err,
    });
  }
  const block = parsePem(text);
  if (!block) {
    throw new PromoteError('KEY_FORMAT_INVALID', `private key ${path} is not a PEM file`, {
      hint: 'give a key written by `promote keygen` or `cosign generate-key-pair`, or a PKCS#8 PEM private key',
    });
  }
  let key: KeyObject;
  try {
    if (block.label === SIGSTORE_KEY_LABEL || block.label === COSIGN_KEY_LABEL) {
      const der = await decryptCosignKey(block.der, await password(path), path);
      try {
        key = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      } finally {
        der.fill(0);
      }
    } else if (block.label === 'PRIVATE KEY' || block.label === 'EC PRIVATE KEY') {
      key = createPrivateKey({ key: text, format: 'pem' });
    } else if (block.label === 'ENCRYPTED PRIVATE KEY') {
      const passphrase = await password(path);
      try {
        key = createPrivateKey({ key: text, format: 'pem', passphrase });
      } catch {
        throw new PromoteError('KEY_PASSWORD_WRONG', `cannot decrypt private key ${path}: wrong password`, {
          hint: 'set the password in PROMOTE_PASSWORD (or COSIGN_PASSWORD), or run on a terminal to be asked',
        });
      }
    } else if (block.label === 'PUBLIC KEY') {
      throw new PromoteError('KEY_FORMAT_INVALID', `${path} is a public key; signing needs the private key`, {
        outcome: 'usage',
        hint: 'pass the `.key` file (not the `.pub`) to --key',
      });
    } else {
      throw new PromoteError('KEY_FORMAT_INVALID', `private key ${path} has an unknown PEM label "${block.label}"`, {
        hint: 'give a key written by `promote keygen` or `cosign generate-key-pair`, or a PKCS#8 PEM private key',
      });
    }
  } catch (err) {
    if (err instanceof PromoteError) throw err;
    // Node's parse errors say nothing secret, but keep only their message, never the input.
    throw new PromoteError('KEY_FORMAT_INVALID', `private key ${path} cannot be parsed: ${(err as Error).message}`, {
      hint: 'give a key written by `promote keygen` or `cosign generate-key-pair`, or a PKCS#8 PEM private key',
    });
  }
  const algorithm = classify(key);
  if (algorithm !== 'ecdsa-p256') {
    throw new PromoteError('KEY_UNSUPPORTED', `private key ${path} is ${algorithm === 'ed25519' ? 'Ed25519' : algorithm === 'rsa' ? 'RSA' : algorithm}; promote signs with ECDSA P-256 keys only`, {
      hint: 'create a P-256 key pair with `promote keygen <name>` (or `cosign generate-key-pair`)',
      details: { key: path },
    });
  }
  return key;
}

export function generateSigningKeyPair(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' });
}
