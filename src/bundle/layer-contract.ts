import { canonicalJson } from '../oci/canonical-json.ts';
import { PromoteError, isPromoteError } from '../errors.ts';
import type { BundleConfig } from './config.ts';
import type { BundleLayout } from './render.ts';
import { parseRecordedRenderer, recordedRenderer, type RendererSpec } from './renderers/kinds.ts';

// A pushed bundle states its contract twice: in the config blob (what validate, plan and to read,
// a few KiB) and in the content layer (bundle.yaml and the schema file, as in a source checkout).
// `promote build` writes both from one bundle.yaml, so they agree; a crafted artefact — still
// signed by CI, the signature covers whatever was pushed — can make them disagree, and then one
// reader renders manifests/ while another applies hidden/. So the two are compared once, at
// pull, before the extraction is moved into place, and every reader takes the layout and the
// schema from bundleContract(config): one source, proved equal to the layer.

export interface BundleContract {
  name: string;
  layout: BundleLayout;
  parameterSchema: object;
  renderer: RendererSpec;
}

/** The layout, schema and renderer of a pulled bundle: always from its (digest-checked) config blob. */
export function bundleContract(config: BundleConfig): BundleContract {
  return {
    name: config.name,
    layout: { manifests: config.manifests, ...(config.files !== undefined && { files: config.files }) },
    parameterSchema: config.parameterSchema,
    renderer: parseRecordedRenderer(config.renderer, config.name),
  };
}

function mismatch(where: string, field: string, layer: unknown, config: unknown): PromoteError {
  const show = (v: unknown) => (v === undefined ? '(none)' : typeof v === 'string' ? JSON.stringify(v) : `${canonicalJson(v).slice(0, 120)}…`);
  return new PromoteError('BUNDLE_LAYER_MISMATCH', `${where} contradicts itself: its content layer's bundle.yaml says ${field} ${show(layer)}, its config blob says ${show(config)}`, {
    outcome: 'verification',
    hint: 'promote build never writes such a bundle: it was crafted so that different readers would see different files. Do not deploy it; rebuild it with promote build',
    details: { field, layer: layer ?? null, config: config ?? null },
  });
}

/**
 * Refuses (BUNDLE_LAYER_MISMATCH, exit 4) an extracted layer in `dir` whose bundle.yaml or
 * parameter schema is not the config's; returns the contract readers use.
 */
export async function checkLayerContract(dir: string, config: BundleConfig, where: string): Promise<BundleContract> {
  const { loadBundleFile } = await import('./bundle-file.ts');
  let loaded;
  try {
    loaded = await loadBundleFile(dir);
  } catch (err) {
    if (!isPromoteError(err)) throw err;
    throw new PromoteError('BUNDLE_LAYER_MISMATCH', `${where}: the content layer's bundle.yaml does not describe the bundle its config blob describes: ${err.message}`, {
      outcome: 'verification',
      cause: err,
      problems: err.problems,
      hint: 'promote build always ships a valid bundle.yaml matching the config; the artefact was crafted or damaged. Rebuild it with promote build',
    });
  }
  const { spec } = loaded;
  if (spec.name !== config.name) throw mismatch(where, 'name', spec.name, config.name);
  if (spec.manifests !== config.manifests) throw mismatch(where, 'spec.manifests', spec.manifests, config.manifests);
  if (spec.files !== config.files) throw mismatch(where, 'spec.files', spec.files, config.files);
  const renderer = recordedRenderer(spec.renderer);
  if (canonicalJson(renderer ?? null) !== canonicalJson(config.renderer ?? null)) throw mismatch(where, 'the renderer', renderer, config.renderer);
  if (canonicalJson(loaded.parameterSchema) !== canonicalJson(config.parameterSchema)) throw mismatch(where, `the parameter schema (${spec.parameters})`, loaded.parameterSchema, config.parameterSchema);
  return bundleContract(config);
}
