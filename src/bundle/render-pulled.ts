import { loadBundleFile } from './bundle-file.ts';
import type { BundleContract } from './layer-contract.ts';
import type { RenderContext } from './render.ts';
import { renderTree, type TreeRender } from './renderers/render-tree.ts';
import type { RendererOptions } from './renderers/renderer.ts';
import { listExtractedFiles } from './sources.ts';

// The one render of a pushed bundle: what the agent applies, what `promote plan` diffs and what
// `promote render <ref>` prints all come from this function, so a preview cannot show files the
// agent would not apply. The input is the extracted layer as packed (no ignore rule applied
// again: sources.ts listExtractedFiles) and the layout and renderer of the digest-checked config
// (layer-contract.ts), never a second reading of bundle.yaml.

/** A bundle pulled by digest and extracted into `dir` (artifact/pull.ts pullInto). */
export interface PulledBundle {
  dir: string;
  digest: string;
  contract: BundleContract;
  /** `bundle <registry>@<digest>`, for messages. */
  what: string;
}

export async function renderPulled(bundle: PulledBundle, ctx: RenderContext, options?: RendererOptions): Promise<TreeRender> {
  const { layout, renderer } = bundle.contract;
  // A binary renderer's input is the whole bundle but its contract (kustomize substitutes every
  // other file): the schema file's path is bundle.yaml's, which the layer check proved agrees
  // with the config blob, so reading it here reads signed content, as a source render does.
  const contract = ['bundle.yaml'];
  if (renderer.kind !== 'plain') contract.push((await loadBundleFile(bundle.dir)).spec.parameters);
  const tree = { files: listExtractedFiles(bundle.dir), layout, what: bundle.what, name: bundle.contract.name, contract };
  return renderTree(tree, renderer, ctx, options);
}
