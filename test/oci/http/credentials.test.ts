import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isPromoteError } from '../../../src/errors.ts';
import { credentialSources, dockerConfigPath, lookupCredentials, normaliseConfigKey, type CredentialSource } from '../../../src/oci/http/credentials.ts';

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

  test('an auths entry with a registrytoken is an access token (sent as the Bearer token itself)', async () => {
    const dockerConfig = await config('registrytoken', { auths: { 'at.example.com': { registrytoken: 'access-at' } } });
    const r = await lookupCredentials('at.example.com', { env: {}, dockerConfig });
    assert.deepEqual({ accessToken: r.credential?.accessToken, username: r.credential?.username, identityToken: r.credential?.identityToken }, { accessToken: 'access-at', username: undefined, identityToken: undefined });
    assert.match(r.credential!.source, /auths\["at\.example\.com"\]/);
  });

  test('credential sources are asked in order until one answers; a source added to the list is asked only when those before it have nothing', async () => {
    const dockerConfig = await config('sources', { auths: { 'reg.example.com': { username: 'cfg', password: 'cfgpass' } } });
    const asked: string[] = [];
    const vault: CredentialSource = async (host) => {
      asked.push(host);
      return host === 'vault.example.com' ? { credential: { accessToken: 'from-vault', source: 'the vault' }, tried: ['the vault'] } : { tried: ['the vault (nothing for this host)'] };
    };
    const withVault = (env: NodeJS.ProcessEnv) => ({ env, dockerConfig, sources: [...credentialSources({ env, dockerConfig }), vault] });
    // The built-in sources answer first: the added one is not asked.
    const env = { PROMOTE_REGISTRY_USERNAME: 'envuser', PROMOTE_REGISTRY_PASSWORD: 'envpass' };
    assert.equal((await lookupCredentials('reg.example.com', withVault(env))).credential?.username, 'envuser');
    assert.equal((await lookupCredentials('reg.example.com', withVault({}))).credential?.username, 'cfg');
    assert.deepEqual(asked, []);
    // Nothing before it for this host: it answers, and the 401 message would list all asked.
    const v = await lookupCredentials('https://Vault.example.com/v2/', withVault({}));
    assert.equal(v.credential?.accessToken, 'from-vault');
    assert.deepEqual(asked, ['vault.example.com'], 'sources get the normalised host');
    assert.deepEqual(v.tried, ['PROMOTE_REGISTRY_USERNAME/PROMOTE_REGISTRY_PASSWORD (not set)', `${dockerConfig} (no entry for vault.example.com)`, 'the vault']);
  });

  test('a username without a password is a usage error', async () => {
    await assert.rejects(lookupCredentials('x.example.com', { username: 'u', env: {} }), (e) => isPromoteError(e, 'CREDENTIALS_INCOMPLETE') && e.outcome === 'usage');
  });
});
