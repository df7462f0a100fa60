import type { BundleLayout } from '../render.ts';
import type { BundleTree, TreeFile } from './renderer.ts';

// Which files of a kustomize bundle take `${params.…}` (DESIGN.md §4b): every file kustomize may
// read — kustomization files, patches, resources, generator inputs — wherever it is in the
// bundle (a base may sit beside the overlay spec.path names), by the plain renderer's rules
// (render.ts) as if the bundle's root were a manifests directory. The bundle's contract
// (bundle.yaml, the schema) and spec.files are copied verbatim, as the plain renderer ships them.

/** The bundle's files that kustomize-build.ts substitutes: all but its contract and spec.files (copied verbatim). */
export function substitutedFiles(tree: BundleTree): { substituted: TreeFile[]; verbatim: TreeFile[] } {
  const contract = new Set(tree.contract);
  const files = tree.layout.files === undefined ? undefined : tree.layout.files.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  const shipped = (p: string) => files !== undefined && (files === '' || files === '.' || p === files || p.startsWith(`${files}/`));
  const substituted: TreeFile[] = [];
  const verbatim: TreeFile[] = [];
  for (const f of tree.files) (contract.has(f.path) || shipped(f.path) ? verbatim : substituted).push(f);
  return { substituted, verbatim };
}

/** Everything to substitute is rendered as a manifests directory at the bundle's root. */
export const SUBSTITUTION_LAYOUT: BundleLayout = { manifests: '.' };
