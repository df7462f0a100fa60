import { readdirSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PromoteError } from '../errors.ts';
import { formatBytes } from '../params/limits.ts';
import { loadBundleFile, type LoadedBundleFile } from './bundle-file.ts';
import { BUNDLE_MAX_MANIFEST_BYTES, BUNDLE_MAX_MANIFESTS_TOTAL_BYTES } from './limits.ts';
import { roleOf, type BundleLayout, type RenderInput } from './render.ts';
import { walkBundle } from './walk.ts';
import type { BundleTree } from './renderers/renderer.ts';

// A bundle directory (a source checkout, or a pulled and extracted bundle) as the renderer's
// input: bundle.yaml checked, the walk's policy applied (.promoteignore, links resolved, sorted).
// Only what is rendered is read into memory — the files under spec.manifests, each within
// BUNDLE_MAX_MANIFEST_BYTES and all within BUNDLE_MAX_MANIFESTS_TOTAL_BYTES; files shipped
// verbatim (spec.files) stay on disk and are streamed by whoever writes the render. So memory is
// bounded by those two limits, whatever the bundle's size (issue 12 §13).

export interface BundleSources {
  bundle: LoadedBundleFile;
  /** What the plain renderer reads (manifests in memory, shipped files on disk). */
  files: RenderInput[];
  /** Every file the bundle packs, as a renderer binary sees them. */
  tree: BundleTree;
}

function tooLarge(what: string, message: string, file: string): PromoteError {
  return new PromoteError('BUNDLE_TOO_LARGE', `${what}: ${message}`, {
    outcome: 'verification',
    hint: 'manifests are parsed whole to be rendered, so their size is limited (README "Bundles"; the limits are fixed): split the file, or ship large content verbatim under spec.files',
    details: { file },
  });
}

/**
 * The render input for `files` (bundle-relative path, absolute source, size): manifests read
 * (size-checked before reading), shipped files left on disk, anything else left out.
 */
export async function readRenderInput(files: Iterable<{ path: string; source: string; size: number }>, layout: BundleLayout, what: string): Promise<RenderInput[]> {
  const out: RenderInput[] = [];
  let manifestBytes = 0;
  for (const f of files) {
    const role = roleOf(f.path, layout);
    if (role === undefined) continue;
    if (role === 'files') {
      out.push({ path: f.path, source: f.source, size: f.size });
      continue;
    }
    if (f.size > BUNDLE_MAX_MANIFEST_BYTES) {
      throw tooLarge(what, `the manifest ${f.path} is ${formatBytes(f.size)}, over the limit of ${formatBytes(BUNDLE_MAX_MANIFEST_BYTES)} for one manifest`, f.path);
    }
    manifestBytes += f.size;
    if (manifestBytes > BUNDLE_MAX_MANIFESTS_TOTAL_BYTES) {
      throw tooLarge(what, `its manifests come to more than ${formatBytes(BUNDLE_MAX_MANIFESTS_TOTAL_BYTES)} in all (at ${f.path})`, f.path);
    }
    const content = await readFile(f.source);
    // The size was checked from the walk; a file that grew since is checked again.
    if (content.length > BUNDLE_MAX_MANIFEST_BYTES) throw tooLarge(what, `the manifest ${f.path} grew past ${formatBytes(BUNDLE_MAX_MANIFEST_BYTES)} while it was read`, f.path);
    out.push({ path: f.path, content });
  }
  return out;
}

export async function readBundleSources(dir: string): Promise<BundleSources> {
  const bundle = await loadBundleFile(dir);
  const entries = await walkBundle(dir);
  const layout = { manifests: bundle.spec.manifests, ...(bundle.spec.files !== undefined && { files: bundle.spec.files }) };
  const packed = entries.filter((e) => e.type === 'file');
  const what = `bundle ${dir}`;
  // A renderer binary reads the chart or kustomization itself: nothing is parsed here for it.
  const files = bundle.spec.renderer.kind === 'plain' ? await readRenderInput(packed, layout, what) : [];
  const tree: BundleTree = { files: packed.map((e) => ({ path: e.path, source: e.source, size: e.size })), layout, what, name: bundle.spec.name, contract: ['bundle.yaml', bundle.spec.parameters], read: files };
  return { bundle, files, tree };
}

/**
 * The regular files under an extracted (pulled) bundle, as bundle-relative paths with their
 * sizes; nothing is read. Unlike walkBundle, no ignore rule is applied again: the build applied
 * them and packed what remained (a tracked file a .gitignore pattern matches included), and an
 * extracted tree holds no links (extract.ts refuses them) — so what is rendered is what was signed.
 */
export function listExtractedFiles(root: string): { path: string; source: string; size: number }[] {
  const out: { path: string; source: string; size: number }[] = [];
  // Synchronous, as in walk.ts: 99,000 async stats, each a thread-pool round trip, took 13 s.
  const walk = (dir: string, rel: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const abs = join(dir, e.name);
      const path = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(abs, path);
      else if (e.isFile()) out.push({ path, source: abs, size: statSync(abs).size });
    }
  };
  walk(root, '');
  return out;
}
