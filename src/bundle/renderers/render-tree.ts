import type { RenderContext, RenderedFile } from '../render.ts';
import { normaliseDir } from './bundle-path.ts';
import { compareBytes } from '../walk.ts';
import { createRenderer, type RendererSpec } from './kinds.ts';
import type { BundleTree, RendererIdentity, RendererOptions } from './renderer.ts';

// The one call every reader renders through (render-pulled.ts for pushed bundles,
// render-environment.ts for source directories): the bundle's renderer, and which one it was.
// spec.files is shipped verbatim whatever renders the manifests: a chart or a kustomization
// renders its own directory, and the files under spec.files are added here, unread, as the
// plain renderer adds them.

export interface TreeRender {
  files: RenderedFile[];
  renderer: RendererIdentity;
}

export async function renderTree(tree: BundleTree, spec: RendererSpec, ctx: RenderContext, options?: RendererOptions): Promise<TreeRender> {
  const renderer = createRenderer(spec, options);
  const [files, identity] = await Promise.all([renderer.render(tree, ctx), renderer.identify()]);
  if (spec.kind === 'plain' || tree.layout.files === undefined) return { files, renderer: identity };
  const dir = normaliseDir(tree.layout.files);
  const shipped: RenderedFile[] = tree.files.filter((f) => dir === '.' || f.path.startsWith(`${dir}/`)).map((f) => ({ ...f, kind: 'verbatim' as const }));
  return { files: [...files, ...shipped].sort((a, b) => compareBytes(a.path, b.path)), renderer: identity };
}
