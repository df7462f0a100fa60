import { createPublicKey } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { keyHint } from '../signing/keys.ts';
import { loadTrustPolicy } from '../signing/policy.ts';
import { keyFingerprint } from '../signing/trusted-signer.ts';
import { loadPipeline, projectRoot } from './load.ts';

// `promote push --sign`: a signature by a key the project's own pipelines do not list under
// trust.bundles is refused at the first `promote to`. Signing is not refused (the key may be
// meant for another pipeline, or the list is about to change), but the user hears it at once.

/** The project roots a push of `bundleDir` from `cwd` may belong to: cwd, then the bundle's directory and its parents (bundles/<name>/). */
function candidateRoots(cwd: string, bundleDir: string): string[] {
  const dir = resolve(cwd, bundleDir);
  return [...new Set([resolve(cwd), dir, dirname(dir), dirname(dirname(dir))])];
}

async function pipelineFiles(root: string): Promise<string[]> {
  const names = await readdir(join(root, 'pipelines')).catch(() => [] as string[]);
  return names.filter((n) => /\.ya?ml$/.test(n)).sort().map((n) => join(root, 'pipelines', n));
}

/**
 * A warning when the first project found has pipelines and none of them lists the key (PEM)
 * under trust.bundles; undefined when one does, or when there is no project or it cannot be read
 * (push does not validate pipelines; `promote validate` does).
 */
export async function bundleSignerWarning(cwd: string, bundleDir: string, publicKeyPem: string): Promise<string | undefined> {
  for (const root of candidateRoots(cwd, bundleDir)) {
    const files = await pipelineFiles(root);
    if (!files.length) continue;
    const hint = keyHint(createPublicKey(publicKeyPem));
    const untrusting: string[] = [];
    for (const file of files) {
      try {
        const pipeline = await loadPipeline(file);
        const policy = await loadTrustPolicy(pipeline.trust.bundles, { baseDir: projectRoot(file) });
        if (policy.keys.some((k) => k.hint === hint)) return undefined;
        untrusting.push(file);
      } catch {
        // An unreadable pipeline proves nothing either way.
      }
    }
    if (!untrusting.length) return undefined;
    return `warning: the key that signed (fingerprint ${keyFingerprint(publicKeyPem)}) is not in trust.bundles of ${untrusting.join(', ')}: promote to will refuse this bundle until its .pub is listed there`;
  }
  return undefined;
}
