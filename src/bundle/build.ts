import { execFile } from 'node:child_process';
import { createReadStream, existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
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
import { writeTarGz } from './tar-writer.ts';
import { walkBundle, type WalkEntry } from './walk.ts';
import { disposeOnInterrupt } from '../cleanup.ts';

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
// - `source` = the `origin` remote URL with any credentials removed.

export interface BuildOptions {
  /** Environment for SOURCE_DATE_EPOCH and git (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** `org.opencontainers.image.version` and the config's `version`. */
  version?: string;
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
  annotations: Record<string, string>;
  /** Removes the temporary layer file. */
  dispose(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface GitFacts {
  time?: number;
  revision?: string;
  source?: string;
}

function git(dir: string, args: string[], env: NodeJS.ProcessEnv): Promise<string | undefined> {
  return new Promise((done) => {
    execFile('git', ['-C', dir, ...args], { env, encoding: 'utf8', maxBuffer: 1024 * 1024 }, (err, stdout) => {
      done(err ? undefined : stdout.trim());
    });
  });
}

/** Removes `user:password@` from URLs; scp-like `git@host:path` has no secret and stays. */
export function withoutCredentials(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/]*@/i, '$1');
}

/** Is `dir` inside a git work tree? Looked up as git does (a `.git` file or directory upwards). */
function inGitWorkTree(dir: string): boolean {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, '.git'))) return true;
    if (dirname(d) === d) return false;
  }
}

async function gitFacts(dir: string, env: NodeJS.ProcessEnv): Promise<GitFacts> {
  // Outside git there is nothing to ask: three git processes cost more CPU than a small build.
  if (!inGitWorkTree(dir)) return {};
  // Never let the user's pager, config prompts or a foreign GIT_DIR steer these read-only calls.
  const gitEnv: NodeJS.ProcessEnv = { ...env, GIT_TERMINAL_PROMPT: '0', GIT_PAGER: 'cat' };
  delete gitEnv.GIT_DIR;
  delete gitEnv.GIT_WORK_TREE;
  const [last, status, origin] = await Promise.all([
    git(dir, ['log', '-1', '--format=%H %ct', '--', '.'], gitEnv),
    git(dir, ['status', '--porcelain', '--', '.'], gitEnv),
    git(dir, ['remote', 'get-url', 'origin'], gitEnv),
  ]);
  const facts: GitFacts = {};
  const match = last ? /^([0-9a-f]{40,64}) (\d+)$/.exec(last) : null;
  if (match) {
    facts.time = Number(match[2]);
    if (status === '') facts.revision = match[1]!;
  }
  if (origin) facts.source = withoutCredentials(origin);
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
  const walking = walkBundle(root);
  // What packing sees in each small file, so the checks need not read it again (build-checks.ts).
  const marks = new Map<string, number>();
  const onFile = (entry: WalkEntry, content: Buffer): void => {
    marks.set(entry.path, contentMarks(content));
  };
  const packing = walking.then((entries) => writeTarGz(entries, layerPath, { signal: stop.signal, onSaturated: saturated, onFile }));
  packing.then(() => saturated(), () => saturated());
  const facting = compressorBusy.then(() => gitFacts(root, env));
  const fileLoading = compressorBusy.then(() => import('./bundle-file.ts')).then(({ loadBundleFile }) => loadBundleFile(root));
  const checking = Promise.all([fileLoading, walking]).then(async ([file, entries]) => (await import('./build-checks.ts')).checkBundleContent(file, entries, marks));
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
    const { spec } = bundleFile;
    const config: BundleConfig = {
      name: spec.name,
      created,
      ...(options.version !== undefined && { version: options.version }),
      ...(spec.description !== undefined && { description: spec.description }),
      parameterSchema: bundleFile.parameterSchema,
      manifests: spec.manifests,
      ...(spec.files !== undefined && { files: spec.files }),
    };
    const configBytes = canonicalJsonBytes(config);
    const configDescriptor: Descriptor = { mediaType: BUNDLE_CONFIG, digest: sha256Digest(configBytes), size: configBytes.length };
    const layerDescriptor: Descriptor = { mediaType: BUNDLE_CONTENT, digest: packed.digest, size: packed.size };
    const annotations: Record<string, string> = {
      [ANNOTATION_CREATED]: created,
      [ANNOTATION_TITLE]: spec.name,
      ...(facts.source !== undefined && { [ANNOTATION_SOURCE]: facts.source }),
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
      annotations,
      dispose,
      [Symbol.asyncDispose]: dispose,
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

export interface BuildSummary {
  name: string;
  /** The manifest digest: the bundle's identity. */
  digest: string;
  mediaType: string;
  /** Manifest size in bytes. */
  size: number;
  created: string;
  files: number;
  directories: number;
  layer: { digest: string; size: number; uncompressedSize: number };
  annotations: Record<string, string>;
  /** `oci:<dir>@sha256:…` when written to an OCI layout. */
  reference?: string;
}

export interface BuildCommandOptions extends BuildOptions {
  /** Also store the artefact in this OCI image layout directory. */
  ociLayout?: string;
  /** Tag in the layout (default: none, stored by digest). */
  tag?: string;
  cwd?: string;
}

/** `promote build`: build, optionally store in an OCI layout, clean up, summarise. */
export async function build(dir: string, options: BuildCommandOptions = {}): Promise<BuildSummary> {
  const cwd = options.cwd ?? process.cwd();
  // try/finally rather than `await using`: tsc's downlevelling of `using` leaves the `.ts`
  // extension of dynamic imports inside it unrewritten, which breaks the compiled dist/.
  const built = await buildBundle(resolve(cwd, dir), options);
  try {
    const summary: BuildSummary = {
      name: built.name,
      digest: built.manifest.descriptor.digest,
      mediaType: OCI_MANIFEST,
      size: built.manifest.descriptor.size,
      created: built.config.value.created,
      files: built.files,
      directories: built.directories,
      layer: { digest: built.layer.descriptor.digest, size: built.layer.descriptor.size, uncompressedSize: built.layer.uncompressedSize },
      annotations: built.annotations,
    };
    if (options.ociLayout !== undefined) {
      const { LayoutRegistry } = await import('../oci/layout-registry.ts');
      const { pushBuiltBundle } = await import('../oci/push.ts');
      const layoutPath = resolve(cwd, options.ociLayout);
      const pushed = await pushBuiltBundle(built, new LayoutRegistry(layoutPath), options.tag);
      summary.reference = `oci:${options.ociLayout}${options.tag ? `:${options.tag}` : ''}@${pushed.digest}`;
    }
    return summary;
  } finally {
    await built.dispose();
  }
}
