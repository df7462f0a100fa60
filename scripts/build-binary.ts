// `npm run build:binary [-- --out <file>]`: promote as one Linux executable that needs no Node
// installed — a Node single-executable application (https://nodejs.org/api/single-executable-applications.html).
//  1. esbuild bundles the CLI (scripts/binary/entry.ts) into one CommonJS script: SEA runs one
//     script, and its require() sees only Node's built-in modules. Commands stay lazily
//     evaluated: a dynamic import() becomes a call that runs the module on first use.
//  2. Every run-time file of the package (src/assets.ts: ASSETS) is embedded as an SEA asset,
//     with a freshly stamped build-info.json.
//  3. `node --experimental-sea-config` makes the blob, with V8's code cache for the script (it
//     spares compiling the bundle at each start), and postject injects it into a copy of the Node
//     binary of the `node` devDependency — the same binary that made the blob, as the code cache
//     requires.
// Needs the devDependencies esbuild and postject.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, realpathSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ASSETS } from '../src/assets.ts';
import { writeBuildInfo } from './build-info.ts';

const root = join(import.meta.dirname, '..');
const requireHere = createRequire(join(root, 'package.json'));

/** SEA's fuse: postject flips the byte after it so Node looks for the injected blob. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/** `node:module`'s `createRequire(import.meta.url)` as the sources write it, in its two forms. */
const REQUIRE_DECLARATION = /\bconst require = createRequire\(import\.meta\.url\);/g;
const REQUIRE_CALL = /\bcreateRequire\(import\.meta\.url\)\(/g;

function devDependency<T>(name: string): T {
  try {
    return requireHere(name) as T;
  } catch (err) {
    const { devDependencies } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { devDependencies: Record<string, string> };
    const wanted = devDependencies[name] ? `npm ci (it is in devDependencies: ${name}@${devDependencies[name]})` : `npm install --save-dev ${name}`;
    throw new Error(`building the binary needs ${name}, which is not installed: run ${wanted}`, { cause: err });
  }
}

/** The Node binary of the `node` devDependency (not the Node running this script, which may be a shim). */
export function embeddedNode(): string {
  const pkg = requireHere.resolve('node/package.json');
  return realpathSync(join(dirname(pkg), 'bin', 'node'));
}

// The parts of esbuild's and postject's APIs used here (typed locally, so the type check does not
// depend on them being installed).
interface BuildMessage {
  id: string;
  text: string;
  location: { file: string; line: number } | null;
}
interface Esbuild {
  build(options: Record<string, unknown>): Promise<{ errors: BuildMessage[]; warnings: BuildMessage[] }>;
  formatMessages(messages: BuildMessage[], options: { kind: 'error' | 'warning' }): Promise<string[]>;
}
interface Postject {
  inject(file: string, resource: string, data: Buffer, options: { sentinelFuse: string }): Promise<void>;
}
interface LoadArgs {
  path: string;
}
interface PluginBuild {
  onLoad(options: { filter: RegExp }, load: (args: LoadArgs) => { contents: string; loader: string }): void;
}

export interface BinaryBuild {
  file: string;
  bytes: number;
  bundleBytes: number;
  ms: number;
}

export async function buildBinary(out: string, work = join(dirname(out), 'sea')): Promise<BinaryBuild> {
  const started = Date.now();
  const esbuild = devDependency<Esbuild>('esbuild');
  const { inject } = devDependency<Postject>('postject');
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });

  const bundle = join(work, 'promote.cjs');
  const result = await esbuild.build({
    entryPoints: [join(root, 'scripts', 'binary', 'entry.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: `node${process.versions.node.split('.')[0]}`,
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
    plugins: [
      {
        // createRequire(import.meta.url) loads a module synchronously (and skips the ES module
        // facades of node:util and node:http, which cost start-up); in the bundle, plain
        // require() does the same and lets esbuild include the module (SEA cannot load files).
        name: 'bundled-require',
        setup(build: PluginBuild) {
          build.onLoad({ filter: /\.ts$/ }, (args) => {
            const source = readFileSync(args.path, 'utf8').replace(REQUIRE_DECLARATION, '').replace(REQUIRE_CALL, 'require(');
            return { contents: source, loader: 'ts' };
          });
        },
      },
    ],
  });
  // import.meta has no value in a CommonJS bundle: a module that still reads it would look for
  // files beside an executable that has none. Only src/assets.ts may (it never does in the binary).
  const stray = result.warnings.filter((w) => !(w.id === 'empty-import-meta' && w.location?.file.endsWith('src/assets.ts')));
  if (result.errors.length || stray.length) {
    const text = await esbuild.formatMessages([...result.errors, ...stray], { kind: 'error' });
    throw new Error(`bundling failed:\n${text.join('\n')}`);
  }

  const info = join(work, 'build-info.json');
  writeBuildInfo(root, info);
  const assets = Object.fromEntries(ASSETS.map((name) => [name, name === 'dist/build-info.json' ? info : join(root, name)]));
  const blob = join(work, 'promote.blob');
  const config = join(work, 'sea-config.json');
  writeFileSync(config, `${JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true, useCodeCache: true, assets }, null, 2)}\n`);
  const node = embeddedNode();
  execFileSync(node, ['--experimental-sea-config', config], { stdio: ['ignore', 'ignore', 'inherit'] });

  mkdirSync(dirname(out), { recursive: true });
  const partial = `${out}.partial`;
  copyFileSync(node, partial);
  chmodSync(partial, 0o755);
  // postject (LIEF) warns about the many note sections of Node's binary; they are left as they are.
  const warn = console.warn;
  console.warn = () => {};
  try {
    await inject(partial, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SEA_FUSE });
  } finally {
    console.warn = warn;
  }
  renameSync(partial, out);
  return { file: out, bytes: readFileSync(out).length, bundleBytes: readFileSync(bundle).length, ms: Date.now() - started };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { out: { type: 'string' } } });
  const out = resolve(values.out ?? join(root, 'dist', `promote-${process.platform}-${process.arch}`));
  const built = await buildBinary(out);
  const version = execFileSync(built.file, ['--version'], { encoding: 'utf8', env: { PATH: '' } }).split('\n')[0];
  process.stderr.write(
    `built ${relative(process.cwd(), built.file) || built.file}: ${version}, ${(built.bytes / 2 ** 20).toFixed(0)} MiB (Node + ${(built.bundleBytes / 2 ** 20).toFixed(1)} MiB script) in ${(built.ms / 1000).toFixed(1)} s\n`,
  );
}
