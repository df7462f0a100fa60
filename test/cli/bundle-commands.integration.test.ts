import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startRegistry } from '../harness/registry.ts';
import { copyFixture, tempDir } from '../bundle/helpers.ts';
import { promote } from './run-promote.ts';

test('CLI push and pull against a TLS registry with basic auth: --ca-file, --username, --password-stdin', async () => {
  const reg = await startRegistry({ auth: 'basic', tls: true });
  await using tmp = await tempDir();
  try {
    const dir = await copyFixture(tmp.path);
    const creds = ['--ca-file', reg.caFile!, '--username', reg.username!, '--password-stdin'];
    const pushed = await promote(['push', dir, `${reg.host}/acme/hello:1.0`, ...creds], { input: `${reg.password}\n` });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stdout, new RegExp(`^${reg.host}/acme/hello@sha256:[0-9a-f]{64}\\n$`));
    const pulled = await promote(['pull', pushed.stdout.trim(), '-o', join(tmp.path, 'out'), ...creds], { input: reg.password! });
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(await readFile(join(tmp.path, 'out', 'bundle.yaml'), 'utf8'), await readFile(join(dir, 'bundle.yaml'), 'utf8'));
    const wrong = await promote(['pull', pushed.stdout.trim(), '-o', join(tmp.path, 'out2'), '--ca-file', reg.caFile!, '--username', reg.username!, '--password-stdin'], { input: 'wrong' });
    assert.notEqual(wrong.code, 0);
    assert.match(wrong.stderr, /401|unauthori[sz]ed|credentials/i);
  } finally {
    await reg.stop();
  }
});
