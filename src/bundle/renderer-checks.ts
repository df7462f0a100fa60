import { PromoteError } from '../errors.ts';
import type { LoadedBundleFile } from './bundle-file.ts';
import { rendererKind } from './renderers/kinds.ts';
import type { BundleTree, TreeFile } from './renderers/renderer.ts';
import type { WalkEntry } from './walk.ts';

// The build-time checks of a bundle rendered by a binary (a chart, a kustomization): what the
// kind refuses — a dependency not vendored, a remote base, a path out of the bundle — refused
// before the bundle gets a digest, with what to run or change (issue 15). A plain bundle's
// checks are build-checks.ts.

export async function checkRendererBundle(bundleFile: LoadedBundleFile, entries: readonly (WalkEntry | TreeFile)[]): Promise<void> {
  const { spec } = bundleFile;
  if (spec.renderer.kind === 'plain') return;
  const kind = rendererKind(spec.renderer.kind);
  if (!kind?.check) return;
  const layout = { manifests: spec.manifests, ...(spec.files !== undefined && { files: spec.files }) };
  const tree: BundleTree = {
    // Walk entries (build) or the tree a caller already read (validate): files only, either way.
    files: entries.filter((e) => !('type' in e) || e.type === 'file').map((e) => ({ path: e.path, source: e.source, size: e.size })),
    layout,
    what: `bundle ${bundleFile.dir}`,
    name: spec.name,
    contract: ['bundle.yaml', spec.parameters],
  };
  const problems = await kind.check(spec.renderer, tree, { schema: bundleFile.parameterSchema, allowSecrets: spec.allowSecrets });
  if (problems.length === 0) return;
  const first = problems[0]!;
  const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
  throw new PromoteError('BUNDLE_RENDERER_INVALID', `cannot build ${spec.name}: ${first.file ? `${first.file}${first.line ? `:${first.line}` : ''}: ` : ''}${first.message}${more}`, {
    outcome: 'verification',
    problems,
    hint: first.hint ?? `the ${spec.renderer.kind} input must render offline from the bundle alone (docs/renderers.md)`,
    details: { dir: bundleFile.dir, renderer: spec.renderer.kind },
  });
}
