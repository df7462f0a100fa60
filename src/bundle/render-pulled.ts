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
  const tree = { files: listExtractedFiles(bundle.dir), layout, what: bundle.what, contract: ['bundle.yaml'] };
  return renderTree(tree, renderer, ctx, options);
}
