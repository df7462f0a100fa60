// Bundles rendered by a binary for the engine and agent tests (test/fixtures/helm-small,
// kustomize-small): they take the test project's parameters ({namespace, replicas}) like
// bundle-small, so one project can promote a plain bundle and then a chart.
import { cp, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pushBundle } from '../../src/artifact/push.ts';
import { signBundle } from '../../src/signing/cosign-signature.ts';
import type { TestProject } from './project.ts';

export const HELM_SMALL = fileURLToPath(new URL('../fixtures/helm-small', import.meta.url));

/** Copies `fixture` (variant `n` of its files/variant.txt), pushes it to the project's repository and signs it with CI's key; returns its digest. */
export async function pushSigned(p: TestProject, fixture: string, n: number, workDir: string): Promise<string> {
  const src = join(workDir, `renderer-bundle-${n}`);
  await cp(fixture, src, { recursive: true });
  await writeFile(join(src, 'files', 'variant.txt'), `variant ${n}\n`);
  const pushed = await pushBundle(src, `${p.repository}:r${n}`, { insecure: true, env: { ...p.env, SOURCE_DATE_EPOCH: String(1_700_000_500 + n) } });
  const digest = pushed.reference.slice(pushed.reference.indexOf('@') + 1);
  await signBundle(p.registry, digest, p.ci, p.repository);
  return digest;
}
