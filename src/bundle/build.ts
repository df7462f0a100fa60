import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { PromoteError } from '../errors.ts';
import { canonicalJsonBytes } from '../oci/canonical-json.ts';
import { sha256Digest } from '../oci/digest.ts';
import {
  ANNOTATION_CREATED,
  ANNOTATION_REVISION,
  ANNOTATION_SOURCE,
  ANNOTATION_TITLE,
  ANNOTATION_VERSION,
  BUNDLE_ARTIFACT,
  BUNDLE_CONFIG,
  BUNDLE_CONTENT,
  OCI_MANIFEST,
} from '../oci/media-types.ts';
import type { Descriptor, ImageManifest } from '../oci/registry.ts';
import { requireBundleFile } from './bundle-dir.ts';
import { contentMarks } from './content-marks.ts';
import type { LoadedBundleFile } from './bundle-file.ts';
import type { BundleConfig } from './config.ts';
import { recordedRenderer } from './renderers/kinds.ts';
import { writeTarGz } from './tar-writer.ts';
import { walkBundle, type ExcludedEntry, type WalkEntry } from './walk.ts';
import { disposeOnInterrupt } from '../cleanup.ts';
import { git, gitEnv, inGitWorkTree } from './git.ts';

// Directory → OCI artefact (DESIGN.md §4 "In the registry"): an image manifest with
// artifactType application/vnd.promote.bundle.v1, the config blob (name, created, the parameter
// schema), and one tar+gzip content layer written to a temp file while it is hashed.
//
// Reproducibility: the only inputs are the files (walk.ts, tar-writer.ts), bundle.yaml and the
// time and git facts below — never the wall clock, TZ, umask, mtimes or owners.
// - `created` = SOURCE_DATE_EPOCH (reproducible-builds.org) if set, else the committer time of
//   the last commit touching the directory (`git log -1 --format=%ct -- .`), else the epoch
//   (1970-01-01T00:00:00Z) — a fixed value rather than "now", so that a tree outside git still
//   builds to one digest.
// - `revision` = that same last commit, and only when the directory has no uncommitted or
//   untracked changes (otherwise the content is not that revision, and the annotation would lie).
//   Using the last commit *of the directory* rather than HEAD keeps the digest unchanged by
//   commits elsewhere in the repository: an unchanged bundle is the same artefact.
// - `source` only when given (BuildOptions.source, `--source`, or PROMOTE_SOURCE), without
//   credentials, query or fragment. Never taken from the clone's remote: https, ssh, a path or a
//   file:// URL name the same repository, and no normal form can equate them all (mirrors,
//   insteadOf rewrites, local paths differ per machine), so a remote URL in the manifest would
//   make one tree build to different digests (issue 11 §5) — and could carry a token.

export interface BuildOptions {
  /** Environment for SOURCE_DATE_EPOCH and git (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** `org.opencontainers.image.version` and the config's `version`. */
  version?: string;
  /** `org.opencontainers.image.source` (default: PROMOTE_SOURCE from env, else none). */
  source?: string;
  /** Where the temporary layer file goes (default os.tmpdir()). */
  tmpDir?: string;
}

export interface BuiltBundle {
  dir: string;
  name: string;
  bundleFile: LoadedBundleFile;
  manifest: { bytes: Buffer; descriptor: Descriptor; value: ImageManifest };
  config: { bytes: Buffer; descriptor: Descriptor; value: BundleConfig };
  layer: {
    descriptor: Descriptor;
    /** The compressed layer on disk (inside a temp dir removed by dispose()). */
    path: string;
    uncompressedSize: number;
    /** A fresh stream of the layer bytes (may be called again, e.g. on retry). */
    open(): Readable;
  };
  files: number;
  directories: number;
  /** What the walk left out, and why (.gitignore, .promoteignore). */
  excluded: ExcludedEntry[];
  annotations: Record<string, string>;
  /** Removes the temporary layer file. */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface GitFacts {
  time?: number;
  revision?: string;
}

/**
 * A URL fit for an annotation: any `user[:password]@` of a `scheme://` URL removed (up to the
 * last `@` before the path, so a password holding `@` or `:` goes too), and the query and
 * fragment dropped (`?private_token=…`). scp-like `git@host:path` names a login, not a secret.
 */
export function withoutCredentials(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  if (!scheme) return url.replace(/[?#].*$/s, '');
  const rest = url.slice(scheme[0].length).replace(/[?#].*$/s, '');
  const slash = rest.indexOf('/');
  const authority = slash < 0 ? rest : rest.slice(0, slash);
  const at = authority.lastIndexOf('@');
  return scheme[0] + (at < 0 ? rest : rest.slice(at + 1));
}

async function gitFacts(dir: string, env: NodeJS.ProcessEnv): Promise<GitFacts> {
  // Outside git there is nothing to ask: two git processes cost more CPU than a small build.
  if (!inGitWorkTree(dir)) return {};
  const safeEnv = gitEnv(env);
  const [last, status] = await Promise.all([
    git(dir, ['log', '-1', '--format=%H %ct', '--', '.'], safeEnv),
    git(dir, ['status', '--porcelain', '--', '.'], safeEnv),
  ]);
  const facts: GitFacts = {};
  const match = last ? /^([0-9a-f]{40,64}) (\d+)$/.exec(last) : null;
  if (match) {
    facts.time = Number(match[2]);
    if (status === '') facts.revision = match[1]!;
  }
  return facts;
}

function sourceDateEpoch(env: NodeJS.ProcessEnv): number | undefined {
  const raw = env.SOURCE_DATE_EPOCH;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(Number(raw))) {
    throw new PromoteError('SOURCE_DATE_EPOCH_INVALID', `SOURCE_DATE_EPOCH is "${raw}", not a whole number of seconds since 1970`, {
      outcome: 'usage',
      hint: 'set it to e.g. $(git log -1 --format=%ct), or unset it to use the git commit time',
    });
  }
  return Number(raw);
}

/** RFC 3339 in UTC, whole seconds: what `org.opencontainers.image.created` expects. */
export function rfc3339(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Builds `dir` into an artefact; the caller must dispose() it (or use `await using`). */
export async function buildBundle(dir: string, options: BuildOptions = {}): Promise<BuiltBundle> {
  const env = options.env ?? process.env;
  const root = resolve(dir);
  const epoch = sourceDateEpoch(env);
  await requireBundleFile(root);
  const tmp = await mkdtemp(join(options.tmpDir ?? tmpdir(), 'promote-build-'));
  const dispose = disposeOnInterrupt(() => rm(tmp, { recursive: true, force: true }));
  const layerPath = join(tmp, 'content.tar.gz');
  // Three independent jobs at once: packing (deflate runs on libuv's thread pool, in parallel
  // blocks), loading and checking bundle.yaml, the parameter schema and the manifests (CPU on
  // the main thread), and the git look-ups (child processes). Packing goes first: the rest, and
  // the modules it needs (yaml, ajv: ~30 ms of the main thread), start only once the compressor
  // holds all the work it can take, so they run while it compresses instead of before. The
  // build-time checks of issue 4 (build-checks.ts: undeclared `${params.…}` references, Secret
  // objects) run on bundleFile and the walked entries.
  const stop = new AbortController();
  const { promise: compressorBusy, resolve: saturated } = Promise.withResolvers<void>();
  const excluded: ExcludedEntry[] = [];
  const walking = walkBundle(root, { env, onExcluded: (e) => excluded.push(e) });
  // What packing sees in each small file, so the checks need not read it again (build-checks.ts).
  const marks = new Map<string, number>();
  const onFile = (entry: WalkEntry, content: Buffer): void => {
    marks.set(entry.path, contentMarks(content));
  };
  const packing = walking.then((entries) => writeTarGz(entries, layerPath, { signal: stop.signal, onSaturated: saturated, onFile }));
  packing.then(() => saturated(), () => saturated());
  const facting = compressorBusy.then(() => gitFacts(root, env));
  const fileLoading = compressorBusy.then(() => import('./bundle-file.ts')).then(({ loadBundleFile }) => loadBundleFile(root));
  const checking = Promise.all([fileLoading, walking]).then(async ([file, entries]) =>
    file.spec.renderer.kind === 'plain' ? (await import('./build-checks.ts')).checkBundleContent(file, entries, marks) : (await import('./renderer-checks.ts')).checkRendererBundle(file, entries),
  );
  checking.catch(() => stop.abort()); // a broken bundle.yaml or manifest need not wait for a big tree to pack
  const [loaded, checked, packedResult, factsResult] = await Promise.allSettled([fileLoading, checking, packing, facting]);
  try {
    // A broken bundle.yaml is reported first (it is what to fix first), then the manifests'
    // problems, then walk or packing failures.
    if (loaded.status === 'rejected') throw loaded.reason;
    if (checked.status === 'rejected') throw checked.reason;
    if (packedResult.status === 'rejected') throw packedResult.reason;
    if (factsResult.status === 'rejected') throw factsResult.reason;
    const bundleFile = loaded.value;
    const packed = packedResult.value;
    const facts = factsResult.value;
    const created = rfc3339(epoch ?? facts.time ?? 0);
    const givenSource = options.source ?? env.PROMOTE_SOURCE;
    const source = givenSource ? withoutCredentials(givenSource.trim()) : undefined;
    const { spec } = bundleFile;
    const config: BundleConfig = {
      name: spec.name,
      created,
      ...(options.version !== undefined && { version: options.version }),
      ...(spec.description !== undefined && { description: spec.description }),
      parameterSchema: bundleFile.parameterSchema,
      manifests: spec.manifests,
      ...(spec.files !== undefined && { files: spec.files }),
      ...(spec.renderer.kind !== 'plain' && { renderer: recordedRenderer(spec.renderer) }),
    };
    const configBytes = canonicalJsonBytes(config);
    const configDescriptor: Descriptor = { mediaType: BUNDLE_CONFIG, digest: sha256Digest(configBytes), size: configBytes.length };
    const layerDescriptor: Descriptor = { mediaType: BUNDLE_CONTENT, digest: packed.digest, size: packed.size };
    const annotations: Record<string, string> = {
      [ANNOTATION_CREATED]: created,
      [ANNOTATION_TITLE]: spec.name,
      ...(source !== undefined && { [ANNOTATION_SOURCE]: source }),
      ...(facts.revision !== undefined && { [ANNOTATION_REVISION]: facts.revision }),
      ...(options.version !== undefined && { [ANNOTATION_VERSION]: options.version }),
    };
    const manifest: ImageManifest = {
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: BUNDLE_ARTIFACT,
      config: configDescriptor,
      layers: [layerDescriptor],
      annotations,
    };
    const manifestBytes = canonicalJsonBytes(manifest);
    return {
      dir: root,
      name: spec.name,
      bundleFile,
      manifest: {
        bytes: manifestBytes,
        descriptor: { mediaType: OCI_MANIFEST, digest: sha256Digest(manifestBytes), size: manifestBytes.length, artifactType: BUNDLE_ARTIFACT },
        value: manifest,
      },
      config: { bytes: configBytes, descriptor: configDescriptor, value: config },
      layer: {
        descriptor: layerDescriptor,
        path: layerPath,
        uncompressedSize: packed.uncompressedSize,
        open: () => createReadStream(layerPath, { highWaterMark: 1024 * 1024 }),
      },
      files: packed.files,
      directories: packed.directories,
      excluded,
      annotations,
      dispose,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}
