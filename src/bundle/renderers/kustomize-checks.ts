import { readFileSync } from 'node:fs';
import type { Problem } from '../../errors.ts';
import { formatBytes } from '../../params/limits.ts';
import { parameterSchema } from '../../params/parameter-schema.ts';
import { contentProblems } from '../build-checks.ts';
import { BUNDLE_MAX_MANIFEST_BYTES } from '../limits.ts';
import { readRenderInput } from '../sources.ts';
import type { KustomizeSpec } from './kustomize.ts';
import { kustomizationProblems, type ReadBundleFile } from './kustomize-paths.ts';
import { substitutedFiles, SUBSTITUTION_LAYOUT } from './kustomize-substitution.ts';
import type { BundleTree } from './renderer.ts';

/**
 * `promote build`'s checks of a kustomize bundle (renderer-checks.ts): the kustomizations' paths
 * (kustomize-paths.ts: no remote base, nothing outside the bundle, no helmCharts), and the substitution checks of plain manifests (build-checks.ts contentProblems:
 * readable YAML, every `${params.…}` declared in the schema) on every file that is substituted.
 */
export async function checkKustomization(spec: KustomizeSpec, tree: BundleTree, schema: object): Promise<Problem[]> {
  const bySource = new Map(tree.files.map((f) => [f.path, f]));
  const paths = new Set(bySource.keys());
  const read: ReadBundleFile = (path) => {
    const f = bySource.get(path)!;
    if (f.size > BUNDLE_MAX_MANIFEST_BYTES) return { unreadable: `it is ${formatBytes(f.size)}, over the ${formatBytes(BUNDLE_MAX_MANIFEST_BYTES)} limit for one manifest` };
    try {
      return readFileSync(f.source);
    } catch (err) {
      return { unreadable: (err as NodeJS.ErrnoException).code ?? String(err) };
    }
  };
  const problems = kustomizationProblems({ root: spec.path, paths, read, unsubstituted: true });
  const inputs = await readRenderInput(substitutedFiles(tree).substituted, SUBSTITUTION_LAYOUT, tree.what);
  const effective = parameterSchema(schema, 'the parameter schema').effective;
  // Secrets are not judged here: allowSecrets is bundle.yaml's, which this check is not given.
  const found = contentProblems(inputs, { layout: SUBSTITUTION_LAYOUT, schema: effective, allowSecrets: true });
  // A kustomization that does not parse was reported by the walk already.
  const key = (p: Problem) => `${p.file}:${p.line}:${p.column}:${p.message}`;
  const seen = new Set(problems.map(key));
  return [...problems, ...found.filter((p) => !seen.has(key(p)))];
}
