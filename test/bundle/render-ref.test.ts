import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from '../../src/artifact/build.ts';
import { renderSource } from '../../src/artifact/render.ts';

// `promote render <ref>`: a pushed bundle (here in an OCI layout) renders exactly like its
// source directory, and ${promote.digest} is the digest that was pushed.

const fixture = fileURLToPath(new URL('../fixtures/podinfo-bundle/', import.meta.url));

test('rendering a pushed bundle equals rendering its source; ${promote.digest} is its digest', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'promote-render-ref-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const src = join(work, 'src');
  await cp(fixture, src, { recursive: true });
  await writeFile(join(src, 'manifests/digest.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bundle-info\n  namespace: ${params.namespace}\ndata:\n  digest: ${promote.digest}\n');
  // Both builds (this one, and render's own for the directory) see the same environment.
  const built = await build(src, { ociLayout: join(work, 'layout'), tag: 'v1' });
  const fromRef = await renderSource({ source: 'oci:layout:v1', environment: 'staging', root: src, cwd: work });
  const fromDir = await renderSource({ source: 'src', environment: 'staging', cwd: work });
  assert.equal(fromRef.reference, `oci:layout@${built.digest}`);
  const body = (stream: string | undefined) => stream!.slice(stream!.indexOf('\n---\n'));
  assert.equal(body(fromRef.stream), body(fromDir.stream));
  assert.match(fromRef.stream!, new RegExp(`^# promote render: oci:layout@${built.digest} for environment staging`));
  assert.match(fromRef.stream!, new RegExp(`digest: "?${built.digest}"?\\n`));
});
