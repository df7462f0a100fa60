import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { PromoteError } from '../errors.ts';
import { writeFileAtomic } from '../write-file-atomic.ts';
import { encryptCosignKey } from './cosign-key-file.ts';
import { generateSigningKeyPair, keyHint } from './keys.ts';

// `promote keygen <name>`: an ECDSA P-256 pair in cosign's files — `<name>.key` (encrypted,
// mode 0600) and `<name>.pub` (PEM SPKI) — so `cosign sign --key <name>.key` works with it too.

export interface KeygenOptions {
  /** The new key's password, or how to ask for it: asked only once no existing file refuses. */
  password: string | (() => Promise<string>);
  /** Replace existing files (default: refuse). */
  force?: boolean;
}

export interface KeygenResult {
  privateKey: string;
  publicKey: string;
  /** base64(sha256(SPKI DER)): identifies the key in Sigstore bundles. */
  hint: string;
}

async function writeFileSafely(path: string, data: string, mode: number, force: boolean): Promise<void> {
  // Write beside the target and rename: the key file is never seen half-written or with a wider
  // mode, and without --force O_EXCL on the final name makes "refuse to overwrite" race-free.
  if (!force) {
    const fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') {
        throw new PromoteError('KEY_EXISTS', `${path} already exists; not overwriting a key`, {
          hint: 'pick another name, or pass --force to replace it (signatures made with the old key will no longer verify with the new .pub)',
        });
      }
      throw new PromoteError('KEY_WRITE_FAILED', `cannot write ${path}: ${err.code ?? err.message}`, { cause: err });
    });
    try {
      try {
        await fh.writeFile(data);
        await fh.chmod(mode); // the umask may have narrowed or (for 0644) kept the mode; set it exactly
      } finally {
        await fh.close();
      }
    } catch (err) {
      // O_EXCL made the file ours: a half-written key (a full disk) must not stay and block a retry.
      await rm(path, { force: true });
      throw new PromoteError('KEY_WRITE_FAILED', `cannot write ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    }
    return;
  }
  // A temp file beside it, fsynced, renamed over it (src/write-file-atomic.ts): a failed write (a
  // full disk) leaves the old key in place.
  await writeFileAtomic(path, data, { mode });
}

export async function generateKeyFiles(name: string, options: KeygenOptions): Promise<KeygenResult> {
  const privateKey = `${name}.key`;
  const publicKey = `${name}.pub`;
  if (!options.force) {
    // Check both before writing either, so a refusal leaves nothing behind.
    for (const p of [privateKey, publicKey]) {
      const exists = await open(p, constants.O_RDONLY).then(
        async (fh) => (await fh.close(), true),
        () => false,
      );
      if (exists) {
        throw new PromoteError('KEY_EXISTS', `${p} already exists; not overwriting a key`, {
          hint: 'pick another name, or pass --force to replace the pair (signatures made with the old key will no longer verify with the new .pub)',
        });
      }
    }
  }
  const pair = generateSigningKeyPair();
  const der = pair.privateKey.export({ type: 'pkcs8', format: 'der' });
  const password = typeof options.password === 'string' ? options.password : await options.password();
  const pem = await encryptCosignKey(der, password);
  der.fill(0);
  await writeFileSafely(privateKey, pem, 0o600, options.force === true);
  await writeFileSafely(publicKey, pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 0o644, options.force === true);
  return { privateKey, publicKey, hint: keyHint(pair.publicKey) };
}
