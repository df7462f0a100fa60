// An access token (docker config `registrytoken`) is sent to the registry as the Bearer token
// itself: no username, password or token-server round trip. Real registry in token-auth mode;
// the token is one its real token server issued.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError } from '../../src/errors.ts';
import { startRegistry } from '../harness/registry.ts';
import { blob, open } from './http-fixtures.ts';

test('a registrytoken from the docker config pushes and reads with no login; a refused one is a 401 naming its source', async (t) => {
  const reg = await startRegistry({ auth: 'token' });
  const dir = await mkdtemp(join(tmpdir(), 'promote-access-token-'));
  t.after(async () => {
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  });
  const url = new URL(reg.tokenUrl!);
  url.searchParams.set('service', 'test-registry');
  url.searchParams.set('scope', 'repository:acme/at:pull,push');
  const res = await fetch(url, { headers: { authorization: `Basic ${Buffer.from(`${reg.username}:${reg.password}`).toString('base64')}` } });
  assert.equal(res.status, 200);
  const { token } = (await res.json()) as { token: string };

  const dockerConfig = join(dir, 'config.json');
  await writeFile(dockerConfig, JSON.stringify({ auths: { [reg.host]: { registrytoken: token } } }));
  const registry = open(reg, 'acme/at', { env: {}, dockerConfig });
  const b = blob('application/octet-stream', randomBytes(2000));
  assert.deepEqual(await registry.pushBlob(b.descriptor, b.bytes), { uploaded: true });
  assert.deepEqual(await registry.fetchBlobBytes(b.descriptor), b.bytes);

  await writeFile(dockerConfig, JSON.stringify({ auths: { [reg.host]: { registrytoken: `${token}x` } } }));
  const refused = open(reg, 'acme/at', { env: {}, dockerConfig });
  await assert.rejects(refused.fetchBlobBytes(b.descriptor), (err: unknown) => {
    assert.ok(isPromoteError(err, 'REGISTRY_UNAUTHORIZED'), String(err));
    assert.match(err.message, /auths\[/);
    assert.ok(!err.message.includes(token), 'the token is never in the error');
    return true;
  });
});
