// STUB written by the lead so the seam typechecks; the helm helper replaces this file.
import type { RenderContext, RenderedFile } from '../render.ts';
import type { HelmSpec } from './helm.ts';
import type { BundleTree, RendererIdentity, RendererOptions } from './renderer.ts';

export async function helmIdentity(_options?: RendererOptions): Promise<RendererIdentity> {
  throw new Error('not implemented');
}

export async function helmTemplate(_spec: HelmSpec, _tree: BundleTree, _ctx: RenderContext, _options?: RendererOptions): Promise<RenderedFile[]> {
  throw new Error('not implemented');
}
