// STUB written by the lead so the seam typechecks; the kustomize helper replaces this file.
import type { RenderContext, RenderedFile } from '../render.ts';
import type { KustomizeSpec } from './kustomize.ts';
import type { BundleTree, RendererIdentity, RendererOptions } from './renderer.ts';

export async function kustomizeIdentity(_options?: RendererOptions): Promise<RendererIdentity> {
  throw new Error('not implemented');
}

export async function kustomizeBuild(_spec: KustomizeSpec, _tree: BundleTree, _ctx: RenderContext, _options?: RendererOptions): Promise<RenderedFile[]> {
  throw new Error('not implemented');
}
