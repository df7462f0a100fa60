import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError } from '../../../src/errors.ts';
import { dockerConfigPath, lookupCredentials, normaliseConfigKey } from '../../../src/oci/http/credentials.ts';

// Real files and a real credential-helper program on PATH; no registry needed.

describe('registry credentials', () => {
  let dir: string;
  let bin: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'promote-creds-'));
    bin = join(dir, 'bin');
    await mkdir(bin);
    // docker-credential-helpers protocol: `get` reads the server URL on stdin, prints JSON.
    await writeFile(join(bin, 'docker-credential-fake'), `#!/bin/sh
read host
case "$host" in
  helped.example.com) echo '{"ServerURL":"helped.example.com","Username":"helper-user","Secret":"helper-secret"}' ;;
  token.example.com) echo '{"ServerURL":"token.example.com","Username":"<token>","Secret":"refresh-123"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`);
    await chmod(join(bin, 'docker-credential-fake'), 0o755);
  });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  async function config(name: string, body: unknown): Promise<string> {
    const path = join(dir, `${name}.json`);
    await writeFile(path, JSON.stringify(body));
    return path;
  }

  test('normalises docker config keys to hosts', () => {
    assert.equal(normaliseConfigKey('https://index.docker.io/v1/'), 'docker.io');
    assert.equal(normaliseConfigKey('https://Registry.Example.com:5000/v2/'), 'registry.example.com:5000');
    assert.equal(normaliseConfigKey('localhost:5000'), 'localhost:5000');
  });

  test('config path: explicit, then $DOCKER_CONFIG, then ~/.docker', () => {
    assert.equal(dockerConfigPath({ dockerConfig: '/x/c.json' }), '/x/c.json');
    assert.equal(dockerConfigPath({ env: { DOCKER_CONFIG: '/d' } }), '/d/config.json');
    assert.equal(dockerConfigPath({ env: { HOME: '/home/u' } }), '/home/u/.docker/config.json');
  });

  test('explicit options win over the environment, which wins over the docker config', async () => {
    const dockerConfig = await config('auths', { auths: { 'reg.example.com': { auth: Buffer.from('cfg:cfgpass').toString('base64') } } });
    const env = { PROMOTE_REGISTRY_USERNAME: 'envuser', PROMOTE_REGISTRY_PASSWORD: 'envpass' };
    assert.equal((await lookupCredentials('reg.example.com', { username: 'opt', password: 'p', env, dockerConfig })).credential?.username, 'opt');
    assert.equal((await lookupCredentials('reg.example.com', { env, dockerConfig })).credential?.username, 'envuser');
    const fromFile = await lookupCredentials('reg.example.com', { env: {}, dockerConfig });
    assert.deepEqual({ u: fromFile.credential?.username, p: fromFile.credential?.password }, { u: 'cfg', p: 'cfgpass' });
    assert.match(fromFile.credential!.source, /auths\["reg\.example\.com"\]/);
  });

  test('auths entries: base64 auth, username/password, identitytoken, and https:// keys', async () => {
    const dockerConfig = await config('kinds', {
      auths: {
        'https://a.example.com/v1/': { auth: Buffer.from('ua:pa:with:colons').toString('base64') },
        'b.example.com': { username: 'ub', password: 'pb' },
        'c.example.com': { identitytoken: 'refresh-c' },
      },
    });
    const a = await lookupCredentials('a.example.com', { env: {}, dockerConfig });
    assert.deepEqual([a.credential?.username, a.credential?.password], ['ua', 'pa:with:colons']);
    const b = await lookupCredentials('b.example.com', { env: {}, dockerConfig });
    assert.deepEqual([b.credential?.username, b.credential?.password], ['ub', 'pb']);
    const c = await lookupCredentials('c.example.com', { env: {}, dockerConfig });
    assert.equal(c.credential?.identityToken, 'refresh-c');
  });

  test('credHelpers and credsStore run docker-credential-<name> get', async () => {
    const env = { PATH: `${bin}:/usr/bin:/bin` };
    const dockerConfig = await config('helpers', {
      credHelpers: { 'helped.example.com': 'fake' },
      credsStore: 'fake',
      auths: { 'fallback.example.com': { username: 'fb', password: 'fbp' } },
    });
    const helped = await lookupCredentials('helped.example.com', { env, dockerConfig });
    assert.deepEqual([helped.credential?.username, helped.credential?.password], ['helper-user', 'helper-secret']);
    assert.match(helped.credential!.source, /docker-credential-fake/);
    const token = await lookupCredentials('token.example.com', { env, dockerConfig });
    assert.equal(token.credential?.identityToken, 'refresh-123');
    // The store has nothing for this host: fall back to auths.
    const fallback = await lookupCredentials('fallback.example.com', { env, dockerConfig });
    assert.equal(fallback.credential?.username, 'fb');
    assert.ok(fallback.tried.some((t) => /docker-credential-fake has no credentials/.test(t)));
  });

  test('nothing found: every source tried is listed, none with a secret', async () => {
    const dockerConfig = await config('other', { auths: { 'other.example.com': { username: 'x', password: 'secret-x' } }, credsStore: 'missing-helper' });
    const r = await lookupCredentials('none.example.com', { env: { PATH: bin, PROMOTE_REGISTRY_USERNAME: 'half' }, dockerConfig });
    assert.equal(r.credential, undefined);
    assert.deepEqual(r.tried, [
      'PROMOTE_REGISTRY_USERNAME (PROMOTE_REGISTRY_PASSWORD is not set)',
      'docker-credential-missing-helper is not installed',
    ]);
    const missing = await lookupCredentials('none.example.com', { env: {}, dockerConfig: join(dir, 'nope.json') });
    assert.match(missing.tried.join(' '), /nope\.json \(does not exist\)/);
    assert.doesNotMatch(JSON.stringify([r, missing]), /secret-x/);
  });

  test('a username without a password is a usage error', async () => {
    await assert.rejects(lookupCredentials('x.example.com', { username: 'u', env: {} }), (e) => isPromoteError(e, 'CREDENTIALS_INCOMPLETE') && e.outcome === 'usage');
  });
});
