import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { PromoteError } from '../../src/errors.ts';
import { LayoutRegistry } from '../../src/oci/layout-registry.ts';
import { isNotFound } from '../../src/oci/not-found.ts';

test('isNotFound: a missing manifest or repository is "nothing there"; every other failure is not', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'promote-not-found-'));
  try {
    const layout = new LayoutRegistry(join(dir, 'layout'));
    const noLayout = await layout.fetchManifest('v1').then(() => undefined, (err: unknown) => err);
    assert.equal(isNotFound(noLayout), false, 'a path that is no layout at all is a mistake, not an empty store');
    await layout.pushBlob({ mediaType: 'application/octet-stream', digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a', size: 2 }, Buffer.from('{}'));
    const missing = await layout.fetchManifest('v1').then(() => undefined, (err: unknown) => err);
    assert.ok(missing instanceof PromoteError, String(missing));
    assert.ok(isNotFound(missing), `${(missing as PromoteError).code} from a layout counts as not found`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  assert.ok(isNotFound(new PromoteError('REPOSITORY_NOT_FOUND', 'x')));
  assert.ok(isNotFound(new PromoteError('MANIFEST_NOT_FOUND', 'x')));
  for (const code of ['BLOB_NOT_FOUND', 'REGISTRY_DENIED', 'MANIFEST_INVALID'] as const) assert.equal(isNotFound(new PromoteError(code, 'x')), false, code);
  assert.equal(isNotFound(new Error('MANIFEST_NOT_FOUND')), false);
});
