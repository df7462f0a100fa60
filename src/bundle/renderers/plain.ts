import { renderFiles } from '../render.ts';
import { readRenderInput } from '../sources.ts';
import type { Renderer } from './renderer.ts';

// The default renderer: `${params.…}` substitution in spec.manifests, files shipped verbatim
// (render.ts). No binary, so nothing to find and its version is promote's own.

export interface PlainSpec {
  kind: 'plain';
}

export const plainRenderer: Renderer = {
  kind: 'plain',
  identify: async () => ({ kind: 'plain' }),
  async render(tree, ctx) {
    return renderFiles(tree.read ?? (await readRenderInput(tree.files, tree.layout, tree.what)), tree.layout, ctx);
  },
};
