import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isPromoteError } from '../../src/errors.ts';
import { startRegistry } from '../harness/registry.ts';
import { blob, open } from './http-fixtures.ts';

// Credentials go to a token realm only over HTTPS when the registry itself is reached over
// verified TLS. The harness runs exactly the case to refuse: a TLS registry whose token server
// (the realm) is plain HTTP. Real registry, real token server.

test('an HTTPS registry whose token realm is plain HTTP gets no credentials (REGISTRY_AUTH_INSECURE_REALM); --insecure still allows it', async (t) => {
  const reg = await startRegistry({ auth: 'token', tls: true });
  t.after(() => reg.stop());
  assert.ok(reg.url.startsWith('https:') && reg.tokenUrl!.startsWith('http:'), `${reg.url} ${reg.tokenUrl}`);
  const b = blob('application/octet-stream', randomBytes(1000));
  const secure = open(reg, 'realm/check', { username: reg.username!, password: reg.password! });
  await assert.rejects(secure.pushBlob(b.descriptor, b.bytes), (err: unknown) => {
    assert.ok(isPromoteError(err), String(err));
    assert.equal(err.code, 'REGISTRY_AUTH_INSECURE_REALM', err.message);
    assert.ok(!err.message.includes(reg.password!) && !JSON.stringify(err.details).includes(reg.password!), 'the password is never in the error');
    return true;
  });
  const insecure = open(reg, 'realm/check', { username: reg.username!, password: reg.password!, insecure: true });
  assert.deepEqual(await insecure.pushBlob(b.descriptor, b.bytes), { uploaded: true });
});
