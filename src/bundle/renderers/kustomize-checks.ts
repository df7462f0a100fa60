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
import type { BundleRules, BundleTree } from './renderer.ts';
import { isOnDisk, type RenderInput } from '../render.ts';
import { parseManifest } from '../manifest-yaml.ts';

const KUSTOMIZATION = /(^|\/)(kustomization\.ya?ml|Kustomization)$/;

/** A secretGenerator in a kustomization: its literals, files and envs are Secret values. */
function secretGenerators(inputs: readonly RenderInput[]): Problem[] {
  const out: Problem[] = [];
  for (const f of inputs) {
    if (!KUSTOMIZATION.test(f.path) || isOnDisk(f)) continue;
    const manifest = parseManifest(f.path, Buffer.from(f.content).toString('utf8'));
    manifest.documents.forEach((doc) => {
      const gens = doc.get('secretGenerator', true);
      const items = gens && typeof gens === 'object' && 'items' in gens ? (gens.items as { range?: [number, number, number]; toJSON(): unknown }[]) : [];
      items.forEach((item, i) => {
        const value = item.toJSON() as Record<string, unknown> | null;
        if (!value || !['literals', 'files', 'envs'].some((k) => Array.isArray(value[k]) && (value[k] as unknown[]).length > 0)) return;
        const { line, col } = manifest.lines.linePos(item.range?.[0] ?? 0);
        out.push({
          file: f.path,
          line,
          column: col,
          pointer: `/secretGenerator/${i}`,
          rule: 'no-secrets',
          message: `secretGenerator ${JSON.stringify(value.name ?? i)} puts Secret values into the bundle`,
          hint: 'keep secret values out of the bundle (a secret store / External Secrets, Sealed Secrets, SOPS), or set spec.allowSecrets: true in bundle.yaml',
        });
      });
    });
  }
  return out;
}

/**
 * `promote build`'s checks of a kustomize bundle (renderer-checks.ts): the kustomizations' paths
 * (kustomize-paths.ts: no remote base, nothing outside the bundle, no helmCharts), and the substitution checks of plain manifests (build-checks.ts contentProblems:
 * readable YAML, every `${params.…}` declared in the schema) on every file that is substituted.
 */
export async function checkKustomization(spec: KustomizeSpec, tree: BundleTree, rules: BundleRules): Promise<Problem[]> {
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
  const effective = parameterSchema(rules.schema, 'the parameter schema').effective;
  // Secret objects with data, as for plain manifests, and a secretGenerator's inputs: kustomize
  // turns them into Secret data, so they are Secret values in the bundle all the same.
  const found = contentProblems(inputs, { layout: SUBSTITUTION_LAYOUT, schema: effective, allowSecrets: rules.allowSecrets });
  if (!rules.allowSecrets) found.push(...secretGenerators(inputs));
  // A kustomization that does not parse was reported by the walk already.
  const key = (p: Problem) => `${p.file}:${p.line}:${p.column}:${p.message}`;
  const seen = new Set(problems.map(key));
  return [...problems, ...found.filter((p) => !seen.has(key(p)))];
}
