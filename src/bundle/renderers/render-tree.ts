import type { RenderContext, RenderedFile } from '../render.ts';
import { createRenderer, type RendererSpec } from './kinds.ts';
import type { BundleTree, RendererIdentity, RendererOptions } from './renderer.ts';

// The one call every reader renders through (render-pulled.ts for pushed bundles,
// render-environment.ts for source directories): the bundle's renderer, and which one it was.

export interface TreeRender {
  files: RenderedFile[];
  renderer: RendererIdentity;
}

export async function renderTree(tree: BundleTree, spec: RendererSpec, ctx: RenderContext, options?: RendererOptions): Promise<TreeRender> {
  const renderer = createRenderer(spec, options);
  const [files, identity] = await Promise.all([renderer.render(tree, ctx), renderer.identify()]);
  return { files, renderer: identity };
}
