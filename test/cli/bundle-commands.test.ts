import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { copyFixture, tempDir } from '../bundle/helpers.ts';
import { promote } from './run-promote.ts';

// The bundle commands as a user runs them: the real CLI in a child process, exit codes, stdout
// for results and stderr for notices.

test('promote build prints the digest; --output json gives digest, size and files', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  const text = await promote(['build', dir]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /^sha256:[0-9a-f]{64}\n$/);
  const json = await promote(['build', 'bundle', '--output', 'json'], { cwd: tmp.path });
  assert.equal(json.code, 0, json.stderr);
  const data = JSON.parse(json.stdout);
  assert.equal(data.digest, text.stdout.trim());
  assert.equal(data.files, 6);
  assert.equal(typeof data.size, 'number');
  assert.equal(existsSync(join(tmp.path, 'bundle', 'index.json')), false, 'build alone writes nothing');
});

test('promote build --oci-layout --tag, push oci:, pull -o, inspect, copy: one flow through the CLI', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  const built = await promote(['build', dir, '--oci-layout', 'layout', '--tag', 'dev'], { cwd: tmp.path });
  assert.equal(built.code, 0, built.stderr);
  const digest = built.stdout.trim();
  assert.match(built.stderr, new RegExp(`stored oci:layout:dev@${digest}`));

  const pushed = await promote(['push', dir, 'oci:store:1.0'], { cwd: tmp.path });
  assert.equal(pushed.code, 0, pushed.stderr);
  assert.equal(pushed.stdout, `oci:store@${digest}\n`, 'push prints repository@digest');
  const again = await promote(['push', dir, 'oci:store:1.0'], { cwd: tmp.path });
  assert.match(again.stderr, /nothing to upload/);

  const pulled = await promote(['pull', 'oci:store:1.0', '-o', 'out', '--output', 'json'], { cwd: tmp.path });
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.equal(JSON.parse(pulled.stdout).digest, digest);
  assert.equal(await readFile(join(tmp.path, 'out', 'manifests', 'service.yaml'), 'utf8'), await readFile(join(dir, 'manifests', 'service.yaml'), 'utf8'));

  const inspected = await promote(['inspect', `oci:store@${digest}`], { cwd: tmp.path });
  assert.equal(inspected.code, 0, inspected.stderr);
  assert.match(inspected.stdout, /name +hello/);
  assert.match(inspected.stdout, /0755 +88 +files\/scripts\/run\.sh/);
  assert.match(inspected.stdout, /parameters +namespace, replicas/);
  const inspectJson = JSON.parse((await promote(['inspect', 'oci:store:1.0', '--no-files', '--output', 'json'], { cwd: tmp.path })).stdout);
  assert.equal(inspectJson.files, undefined);
  assert.equal(inspectJson.annotations['org.opencontainers.image.title'], 'hello');

  const copied = await promote(['copy', 'oci:store:1.0', 'oci:elsewhere'], { cwd: tmp.path });
  assert.equal(copied.code, 0, copied.stderr);
  assert.equal(copied.stdout, `oci:elsewhere@${digest}\n`);
});

test('errors: missing bundle.yaml exits 2 with the init hint; a tampered layout exits 4; bad flags exit 2', async () => {
  await using tmp = await tempDir();
  const missing = await promote(['build', tmp.path]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /has no bundle\.yaml/);
  assert.match(missing.stderr, /hint: run `promote init/);

  const dir = await copyFixture(tmp.path);
  const json = JSON.parse((await promote(['push', dir, 'oci:layout:1', '--output', 'json'], { cwd: tmp.path })).stdout);
  const blob = join(tmp.path, 'layout', 'blobs', 'sha256', json.layer.digest.slice(7));
  const bytes = await readFile(blob);
  bytes[4] = 1;
  await writeFile(blob, bytes);
  const tampered = await promote(['pull', 'oci:layout:1', '-o', 'out', '--output', 'json'], { cwd: tmp.path });
  assert.equal(tampered.code, 4);
  assert.equal(JSON.parse(tampered.stdout).error.code, 'BLOB_DIGEST_MISMATCH');
  assert.equal(existsSync(join(tmp.path, 'out')), false);

  const usage = await promote(['build', dir, '--tag', 'x']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--tag needs --oci-layout/);
  const badRef = await promote(['push', dir, 'localhost:5000/Acme/Webapp']);
  assert.equal(badRef.code, 2);
  assert.match(badRef.stderr, /upper-case/);
  const stdinNoUser = await promote(['push', dir, 'oci:x', '--password-stdin'], { input: 'pw\n' });
  assert.equal(stdinNoUser.code, 2);
  assert.match(stdinNoUser.stderr, /--password-stdin needs --username/);
});

test('promote inspect lists cosign signatures and referrers (records) of a bundle', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  const pushed = JSON.parse((await promote(['push', dir, 'oci:store:1.0', '--output', 'json'], { cwd: tmp.path })).stdout);
  const { LayoutRegistry } = await import('../../src/oci/layout-registry.ts');
  const { attach } = await import('../oci/helpers.ts');
  const store = new LayoutRegistry(join(tmp.path, 'store'));
  const subject = { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: pushed.digest, size: pushed.size };
  const record = await attach(store, subject, 'application/vnd.promote.promotion.v1+json');
  const sigTag = `sha256-${pushed.digest.slice(7)}.sig`;
  const sig = await attach(store, subject, 'application/vnd.dev.cosign.simplesigning.v1+json', sigTag);
  const r = await promote(['inspect', 'oci:store:1.0', '--no-files'], { cwd: tmp.path });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`Signatures:\\n  ${sigTag}  ${sig.digest}`));
  assert.match(r.stdout, new RegExp(`application/vnd\\.promote\\.promotion\\.v1\\+json +${record.digest}`));
  const json = JSON.parse((await promote(['inspect', 'oci:store:1.0', '--no-files', '--output', 'json'], { cwd: tmp.path })).stdout);
  assert.deepEqual(json.signatures, [{ tag: sigTag, digest: sig.digest }]);
  assert.equal(json.referrers.length, 2);
});
