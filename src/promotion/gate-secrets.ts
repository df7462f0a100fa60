import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, resolve } from 'node:path';
import { PromoteError } from '../errors.ts';
import { describeSecretRef, type SecretRef } from '../pipeline/secret-ref.ts';

// The engine's GateFacts.secret (and the notifier's): the value of a `secretFrom`, read when it
// is used. Errors name the source, never a value; an empty secret is missing, since an empty
// bearer token or HMAC key would authenticate nothing.

const MAX_SECRET_BYTES = 64 * 1024;

export async function readSecret(ref: SecretRef, where: { env: NodeJS.ProcessEnv; root: string }): Promise<string> {
  const missing = (why: string, hint: string, cause?: unknown) =>
    new PromoteError('GATE_SECRET_MISSING', `secret from ${describeSecretRef(ref)} ${why}`, { outcome: 'refused', hint, ...(cause !== undefined && { cause }) });
  if ('env' in ref) {
    const value = where.env[ref.env];
    if (!value?.trim()) throw missing(value === undefined ? 'is not set' : 'is empty', `set ${ref.env} in the environment promote runs in`);
    return value.trim();
  }
  const file = isAbsolute(ref.file) ? ref.file : resolve(where.root, ref.file);
  const info = await stat(file).catch((err: unknown) => {
    throw missing('cannot be read', `create ${ref.file} (relative to the project root), readable by promote`, err);
  });
  if (!info.isFile()) throw missing('is not a file', `point file: at a file holding only the secret`);
  if (info.size > MAX_SECRET_BYTES) throw missing(`is larger than ${MAX_SECRET_BYTES} bytes`, 'a secret file holds only the secret');
  const value = (await readFile(file, 'utf8')).trim();
  if (!value) throw missing('is empty', `put the secret in ${ref.file}`);
  return value;
}
