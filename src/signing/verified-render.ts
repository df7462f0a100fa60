import { PromoteError } from '../errors.ts';
import type { RenderSourceOptions, RenderSourceResult } from '../bundle/render-environment.ts';
import type { RegistryOptions } from '../oci/open.ts';
import type { TrustPolicy } from './policy.ts';
import { verifyReference, type VerifyReferenceResult } from './verify-reference.ts';

// `promote render <ref> --verify`: the same order as `pull --verify` — the tag is resolved once
// and that digest verified, then the bundle is rendered from `repository@digest`, never from the
// tag again. A bundle that does not verify is not even downloaded, so nothing is written.

export interface VerifiedRenderResult extends RenderSourceResult {
  verification: VerifyReferenceResult;
}

export async function verifiedRender(options: RenderSourceOptions, policy: TrustPolicy, registry: RegistryOptions = {}): Promise<VerifiedRenderResult> {
  const { stat } = await import('node:fs/promises');
  const { resolve } = await import('node:path');
  const isDir = await stat(resolve(options.cwd, options.source)).then((s) => s.isDirectory(), () => false);
  if (isDir) {
    throw new PromoteError('USAGE', `--verify checks the signature of a pushed bundle; ${options.source} is a directory`, {
      outcome: 'usage',
      hint: 'render a reference (repo:tag, repo@sha256:…, oci:<layout>:tag) with --verify, or drop --verify for a local directory',
    });
  }
  const verification = await verifyReference(options.source, policy, { ...registry, ...options.registry, cwd: options.cwd });
  const { renderSource } = await import('../bundle/render-environment.ts');
  const rendered = await renderSource({ ...options, source: verification.reference });
  return { ...rendered, verification };
}
