import type { BundleContract } from './layer-contract.ts';
import { renderFiles, type RenderContext, type RenderedFile } from './render.ts';
import { listExtractedFiles, readRenderInput } from './sources.ts';

// The one render of a pushed bundle: what the agent applies, what `promote plan` diffs and what
// `promote render <ref>` prints all come from this function, so a preview cannot show files the
// agent would not apply. The input is the extracted layer as packed (no ignore rule applied
// again: sources.ts listExtractedFiles) and the layout of the digest-checked config
// (layer-contract.ts), never a second reading of bundle.yaml.

/** A bundle pulled by digest and extracted into `dir` (artifact/pull.ts pullInto). */
export interface PulledBundle {
  dir: string;
  digest: string;
  contract: BundleContract;
  /** `bundle <registry>@<digest>`, for messages. */
  what: string;
}

export async function renderPulled(bundle: PulledBundle, ctx: RenderContext): Promise<RenderedFile[]> {
  const { layout } = bundle.contract;
  return renderFiles(await readRenderInput(listExtractedFiles(bundle.dir), layout, bundle.what), layout, ctx);
}
