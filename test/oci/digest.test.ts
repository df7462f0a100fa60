import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isPromoteError } from '../../src/errors.ts';
import { checkBytes } from '../../src/oci/digest.ts';

test('checkBytes: size first, then the digest, for sha256 and sha512 alike', () => {
  const bytes = Buffer.from('content\n');
  for (const algorithm of ['sha256', 'sha512'] as const) {
    const digest = `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
    assert.doesNotThrow(() => checkBytes({ digest, size: bytes.length }, bytes, 'blob', 'a test'));
    assert.throws(() => checkBytes({ digest, size: bytes.length + 1 }, bytes, 'blob', 'a test'), (e) => isPromoteError(e, 'BLOB_SIZE_MISMATCH'));
    const other = Buffer.from('CONTENT\n');
    assert.throws(() => checkBytes({ digest, size: other.length }, other, 'blob', 'a test'), (e) => isPromoteError(e, 'BLOB_DIGEST_MISMATCH') && e.outcome === 'verification' && e.message.includes(`${algorithm}:`));
  }
});
