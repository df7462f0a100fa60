import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseAddress } from '../../src/agent/agent.ts';
import { openTarget } from '../../src/agent/targets/open-target.ts';
import { DirTarget } from '../../src/agent/targets/dir-target.ts';
import { promote } from '../cli/run-promote.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('promote agent: options', () => {
  it('parses --metrics-address as host:port or :port', () => {
    assert.deepEqual(parseAddress('127.0.0.1:9090'), { host: '127.0.0.1', port: 9090 });
    assert.deepEqual(parseAddress(':9090'), { host: '0.0.0.0', port: 9090 });
    assert.deepEqual(parseAddress('[::1]:0'), { host: '::1', port: 0 });
    assert.throws(() => parseAddress('9090'), { code: 'USAGE' });
    assert.throws(() => parseAddress('host:99999'), { code: 'USAGE' });
  });

  it('opens dir: targets relative to the working directory and refuses unknown targets', async () => {
    const t = await openTarget('dir:out/dev', { cwd: '/srv' });
    assert.ok(t instanceof DirTarget);
    assert.equal(t.name, 'dir:/srv/out/dev');
    await assert.rejects(openTarget('ftp://x', { cwd: '/' }), { code: 'USAGE', message: /unknown target "ftp:\/\/x"/ });
    await assert.rejects(openTarget('dir:', { cwd: '/' }), { code: 'USAGE' });
  });

  it('the CLI says which required option is missing (exit 2), and --help teaches with examples', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'promote-agent-cli-'));
    dirs.push(dir);
    const missing = await promote(['agent', '--stage', 'dev', '--target', 'dir:x'], { cwd: dir });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /agent needs --cluster/);
    const noPipeline = await promote(['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', `dir:${dir}/out`, '--once'], { cwd: dir });
    assert.equal(noPipeline.code, 2);
    assert.match(noPipeline.stderr, /no pipeline/);
    // The address is checked before anything is read or reached: its own error, not "no pipeline".
    const badAddress = await promote(['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', `dir:${dir}/out`, '--once', '--metrics-address', '9090'], { cwd: dir });
    assert.equal(badAddress.code, 2);
    assert.match(badAddress.stderr, /--metrics-address must be host:port or :port, not "9090"/);
    // So is the target, and an option of another kind of target.
    const badTarget = await promote(['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', 'ftp://x', '--once'], { cwd: dir });
    assert.equal(badTarget.code, 2);
    assert.match(badTarget.stderr, /unknown target "ftp:\/\/x"/);
    assert.doesNotMatch(badTarget.stderr, /no pipeline/);
    const inCluster = await promote(['agent', '--pipeline', 'webapp', '--repository', 'registry.example.com/acme/webapp', '--stage', 'dev', '--cluster', 'dev-1', '--target', 'kubernetes'], { cwd: dir });
    assert.equal(inCluster.code, 2);
    assert.match(inCluster.stderr, /--promotion-key and --bundle-key/);
    const help = await promote(['agent', '--help'], { cwd: dir });
    assert.equal(help.code, 0);
    assert.match(help.stdout, /Examples:/);
    assert.match(help.stdout, /--no-self-heal/);
  });
});
