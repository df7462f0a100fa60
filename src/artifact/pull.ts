import { chmod, mkdir, readdir, rename, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve as resolvePath } from 'node:path';
import { parseBundleConfig, type BundleConfig } from '../bundle/config.ts';
import { extractBundleLayer, type ExtractLimits, type ExtractSummary } from '../bundle/extract.ts';
import { bundleContract, checkLayerContract } from '../bundle/layer-contract.ts';
import type { PulledBundle } from '../bundle/render-pulled.ts';
import { isPromoteError, PromoteError, wrapError } from '../errors.ts';
import { BUNDLE_ARTIFACT, BUNDLE_CONFIG, BUNDLE_CONTENT, OCI_MANIFEST } from '../oci/media-types.ts';
import { openRegistry, type RegistryOptions } from '../oci/open.ts';
import { checkDepth } from '../oci/json-depth.ts';
import { formatReference, parseReference, referenceTarget, withDigest } from '../oci/reference.ts';
import type { ContentReader, Descriptor, FetchedManifest, ImageManifest } from '../oci/registry.ts';
import { onInterrupt } from '../cleanup.ts';
import { removeTree } from '../remove-tree.ts';
import { sweepTemps, tempName } from '../temp-file.ts';

// Pull: resolve a tag once, then work by digest only (a tag moving mid-pull cannot mix two
// bundles). The manifest, the config and the content layer are each verified against their
// digests while they stream; the files are extracted into a temporary directory *beside* the
// output (same file system, so the final rename is atomic) and moved into place only after the
// whole layer verified. A refused or failed pull leaves no output and no temp directory.

export interface ResolvedBundle {
  /** The manifest digest: the bundle's identity. */
  digest: string;
  manifestBytes: Buffer;
  manifest: ImageManifest;
  config: BundleConfig;
  configDescriptor: Descriptor;
  layer: Descriptor;
}

function notABundle(where: string, why: string): PromoteError {
  return new PromoteError('NOT_A_BUNDLE', `${where} is not a promote bundle: ${why}`, {
    outcome: 'verification',
    hint: 'pull a reference that `promote push` printed; other artefacts can be copied with `promote copy` or read with `promote inspect`',
  });
}

/**
 * Reads and checks a bundle's manifest and config (a few KiB; never the content layer).
 * `target` is a tag or digest in `registry`; a tag is resolved exactly once. `fetched`: its
 * manifest, when the caller already read it by that digest (the agent, for the signature check).
 */
export async function resolveBundle(registry: ContentReader, target: string, fetched?: FetchedManifest): Promise<ResolvedBundle> {
  if (fetched?.descriptor.digest !== target) fetched = await registry.fetchManifest(target);
  const digest = fetched.descriptor.digest;
  const where = `${registry.name}@${digest}`;
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(fetched.bytes.toString('utf8')) as ImageManifest;
  } catch {
    throw notABundle(where, 'its manifest is not JSON');
  }
  checkDepth(manifest, `the manifest of ${where}`);
  const mediaType = manifest.mediaType ?? fetched.descriptor.mediaType;
  if (mediaType !== OCI_MANIFEST) throw notABundle(where, `its manifest is ${mediaType}, not an OCI image manifest`);
  if (manifest.artifactType !== BUNDLE_ARTIFACT && manifest.config?.mediaType !== BUNDLE_CONFIG) {
    throw notABundle(where, `its artifact type is ${manifest.artifactType ?? manifest.config?.mediaType ?? 'unknown'}`);
  }
  if (manifest.config?.mediaType !== BUNDLE_CONFIG) throw notABundle(where, `its config is ${manifest.config?.mediaType}, not ${BUNDLE_CONFIG}`);
  const layers = Array.isArray(manifest.layers) ? manifest.layers : [];
  if (layers.length !== 1 || layers[0]!.mediaType !== BUNDLE_CONTENT) {
    throw notABundle(where, `it must have exactly one ${BUNDLE_CONTENT} layer`);
  }
  const configBytes = await registry.fetchBlobBytes(manifest.config, 4 * 1024 * 1024);
  return { digest, manifestBytes: fetched.bytes, manifest, config: parseBundleConfig(configBytes, where), configDescriptor: manifest.config, layer: layers[0]! };
}

async function isEmptyDir(path: string): Promise<boolean | undefined> {
  try {
    const s = await stat(path);
    if (!s.isDirectory()) return false;
    return (await readdir(path)).length === 0;
  } catch {
    return undefined; // does not exist
  }
}

/**
 * Extracts a resolved bundle's files into `out`, which must not exist or be an empty directory.
 * All or nothing: extraction happens in a sibling temp dir renamed into place at the end.
 */
export async function extractBundle(registry: ContentReader, bundle: ResolvedBundle, out: string, limits: ExtractLimits = {}): Promise<ExtractSummary> {
  const state = await isEmptyDir(out);
  if (state === false) {
    throw new PromoteError('OUTPUT_EXISTS', `${out} already exists and is not an empty directory`, {
      outcome: 'usage',
      hint: 'pull into a new or empty directory (-o <dir>), or remove the old one first',
      details: { path: out },
    });
  }
  // The directories mkdir had to create (if any) are removed again on failure — only while empty:
  // a concurrent pull or agent may have put its own output there meanwhile.
  const madeParent = await mkdir(dirname(out), { recursive: true });
  // What a pull killed with -9 left beside its output (its writer is gone; live ones are kept).
  await sweepTemps(dirname(out));
  let tmp: string | undefined;
  let forget: (() => void) | undefined;
  try {
    tmp = join(dirname(out), tempName(basename(out), 'promote-pull'));
    // Registered before the directory exists: a Ctrl-C that lands between mkdir and the line
    // after it must still remove it.
    forget = onInterrupt(() => removeStaging(tmp!));
    await mkdir(tmp);
    await chmod(tmp, 0o755);
    const stream = await registry.fetchBlob(bundle.layer);
    const summary = await extractBundleLayer(stream, tmp, `bundle ${registry.name}@${bundle.digest}`, limits);
    // Before it lands anywhere: a layer that describes another bundle than its config is refused.
    await checkLayerContract(tmp, bundle.config, `bundle ${registry.name}@${bundle.digest}`);
    if (state === true) await rmdir(out);
    await rename(tmp, out);
    return summary;
  } catch (err) {
    if (tmp !== undefined) await removeTree(tmp);
    if (madeParent !== undefined) {
      for (let d = dirname(out); d.length >= madeParent.length; d = dirname(d)) {
        if (!(await rmdir(d).then(() => true, () => false))) break;
      }
    }
    throw err;
  } finally {
    forget?.();
  }
}

/**
 * The bundle `digest` extracted into `dir`, for rendering (bundle/render-pulled.ts): extracted
 * now when `dir` does not exist, else the extraction already there — all-or-nothing and
 * digest-checked, so a directory that exists is complete (the agent keeps one per digest).
 * `manifest`: the bundle's manifest, already fetched by `digest`.
 */
export async function pullInto(registry: ContentReader, digest: string, dir: string, manifest?: FetchedManifest): Promise<PulledBundle> {
  const resolved = await resolveBundle(registry, digest, manifest);
  const what = `bundle ${registry.name}@${resolved.digest}`;
  if (!(await exists(dir))) {
    try {
      await extractBundle(registry, resolved, dir);
    } catch (err) {
      // Another agent sharing the cache extracted the same digest first: that copy is as good.
      if (!(isPromoteError(err) && err.code === 'OUTPUT_EXISTS') || !(await exists(dir))) throw err;
    }
  } else {
    // A cache entry may predate the layer check (extractBundle does it for new ones).
    await checkLayerContract(dir, resolved.config, what);
  }
  return { dir, digest: resolved.digest, contract: bundleContract(resolved.config), what };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/**
 * Removes an interrupted pull's staging directory. Extraction may still have a write or a
 * recursive mkdir in flight on the thread pool, which can re-create a path just removed: remove,
 * let in-flight operations land, and check, a few times, before the process exits.
 */
async function removeStaging(dir: string): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await removeTree(dir);
    await new Promise((r) => setTimeout(r, 20));
    if (!(await stat(dir).then(() => true, () => false))) return;
  }
  throw new Error(`${dir} keeps reappearing`);
}

export interface PullOptions extends RegistryOptions {
  /** Output directory (default: ./<bundle name>). */
  out?: string;
  limits?: ExtractLimits;
}

export interface PullResult {
  /** `repository@sha256:…` of what was pulled. */
  reference: string;
  digest: string;
  name: string;
  created: string;
  out: string;
  files: number;
  directories: number;
  bytes: number;
}

/** `promote pull <ref> [-o dir]`. */
export async function pullBundle(reference: string, options: PullOptions = {}): Promise<PullResult> {
  const ref = parseReference(reference);
  const cwd = options.cwd ?? process.cwd();
  const registry = await openRegistry(ref, options);
  try {
    const bundle = await resolveBundle(registry, referenceTarget(ref));
    const out = resolvePath(cwd, options.out ?? bundle.config.name);
    const summary = await extractBundle(registry, bundle, out, options.limits);
    return {
      reference: formatReference(withDigest(ref, bundle.digest)),
      digest: bundle.digest,
      name: bundle.config.name,
      created: bundle.config.created,
      out,
      files: summary.files,
      directories: summary.directories,
      bytes: summary.bytes,
    };
  } catch (err) {
    throw wrapError(err, `pulling ${formatReference(ref)} failed`);
  }
}
