// The single executable (npm run build:binary) against `node bin/promote.js` (the checkout's
// sources, type-stripped, with Node's compile cache) and the installed package's compiled dist/,
// on what whole-process start-up dominates: `promote --help`, the build of a small bundle (against
// the `tar -cz | sha256sum` floor) and its push to a local registry (against `skopeo copy`).
// Issue 2 found start-up is what kept small push (1.8×) and build (2.1×) above skopeo and tar.
// Interleaved runs, medians, in one run (absolute times drift 2× between runs here).
// Builds dist/promote-linux-x64 first when it is missing or older than the sources.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { cp, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startRegistry } from '../test/harness/registry.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = join(root, 'bin', 'promote.js');
const binary = join(root, 'dist', `promote-${process.platform}-${process.arch}`);
const kubePrometheus = join(root, 'test', 'fixtures', 'kube-prometheus', 'manifests');
const runs = Number(process.env.BENCH_RUNS ?? 11);
const env = { PATH: process.env.PATH, HOME: process.env.HOME, LC_ALL: 'C', SOURCE_DATE_EPOCH: '1700000000' };

/** Modification time (ms) of the newest file under dir. */
function newestSource(dir: string): number {
  const times = execFileSync('find', [dir, '-type', 'f', '-printf', '%T@\n'], { encoding: 'utf8' }).trim().split('\n');
  return Math.max(...times.map((t) => Number(t) * 1000));
}

function time(command: string, args: string[], extraEnv: NodeJS.ProcessEnv = {}): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(command, args, { env: { ...env, ...extraEnv }, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  if (!existsSync(binary) || statSync(binary).mtimeMs < newestSource(join(root, 'src'))) {
    process.stderr.write('building the binary (npm run build:binary)…\n');
    execFileSync(process.execPath, [join(root, 'scripts', 'build-binary.ts')], { stdio: 'inherit' });
  }
  const work = await mkdtemp(join(tmpdir(), 'promote-binary-bench-'));
  const registry = await startRegistry();
  try {
    // The compiled package, as `npm install` lays it out (dist/ beside bin/ and schemas/).
    const pkg = join(work, 'package');
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')]);
    for (const d of ['bin', 'schemas']) await cp(join(root, d), join(pkg, d), { recursive: true });
    await cp(join(root, 'package.json'), join(pkg, 'package.json'));
    await writeFile(join(pkg, 'dist', 'build-info.json'), '{"version":"bench","commit":"unknown","modified":false}\n');
    await symlink(join(root, 'node_modules'), join(pkg, 'node_modules'));

    const bundle = join(work, 'kube-prometheus');
    await cp(kubePrometheus, join(bundle, 'manifests'), { recursive: true });
    await writeFile(join(bundle, 'bundle.yaml'), 'apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: kube-prometheus}\nspec: {parameters: params.schema.json, manifests: manifests/, allowSecrets: true}\n');
    await writeFile(join(bundle, 'params.schema.json'), '{"type":"object"}\n');
    const layout = join(work, 'layout');
    execFileSync(process.execPath, [bin, 'build', bundle, '--oci-layout', layout, '--tag', 'bench'], { env, stdio: 'ignore' });
    const files = (await readdir(join(bundle, 'manifests'))).length;

    const variants: Array<[string, string, string[]]> = [
      ['binary', binary, []],
      ['node bin/promote.js', process.execPath, [bin]],
      ['installed package', process.execPath, [join(pkg, 'bin', 'promote.js')]],
    ];
    const start: number[][] = variants.map(() => []);
    const build: number[][] = variants.map(() => []);
    const push: number[][] = variants.map(() => []);
    const floor = { node: [] as number[], tar: [] as number[], skopeo: [] as number[] };
    let repo = 0;
    // Warm the page cache and Node's compile cache once.
    for (const [, cmd, pre] of variants) time(cmd, [...pre, '--help']);
    for (let i = 0; i < runs; i++) {
      floor.node.push(time(process.execPath, ['-e', '0']));
      floor.tar.push(time('sh', ['-c', 'tar -cz -C "$1" . | sha256sum >/dev/null', 'sh', bundle]));
      const cache = join(work, `skopeo-${i}`);
      floor.skopeo.push(time('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', `oci:${layout}:bench`, `docker://${registry.host}/bench/s${++repo}:bench`], { XDG_DATA_HOME: cache, _CONTAINERS_ROOTLESS_UID: '65534' }));
      await rm(cache, { recursive: true, force: true });
      variants.forEach(([, cmd, pre], j) => {
        start[j]!.push(time(cmd, [...pre, '--help']));
        build[j]!.push(time(cmd, [...pre, 'build', bundle]));
        push[j]!.push(time(cmd, [...pre, 'copy', `oci:${layout}:bench`, `${registry.host}/bench/p${++repo}:bench`, '--insecure']));
      });
    }
    const [node0, tar, skopeo] = [median(floor.node), median(floor.tar), median(floor.skopeo)];
    const ms = (x: number) => `${x.toFixed(0)} ms`.padStart(8);
    const ratio = (x: number, of: number) => `${(x / of).toFixed(2)}×`.padStart(7);
    console.log(`single executable vs Node, medians of ${runs} interleaved runs (Node ${process.version}; kube-prometheus: ${files} files, 0.5 MiB layer)`);
    console.log(`  ${'promote'.padEnd(22)} ${'--help'.padStart(8)} ${'/ node -e 0'.padStart(11)}  ${'build'.padStart(8)} ${'/ tar'.padStart(7)}  ${'push'.padStart(8)} ${'/ skopeo'.padStart(8)}`);
    variants.forEach(([name], j) => {
      const [s, b, p] = [median(start[j]!), median(build[j]!), median(push[j]!)];
      console.log(`  ${name.padEnd(22)} ${ms(s)} ${ratio(s, node0).padStart(11)}  ${ms(b)} ${ratio(b, tar)}  ${ms(p)} ${ratio(p, skopeo).padStart(8)}`);
    });
    console.log(`  ${'floors'.padEnd(22)} ${ms(node0)} ${'node -e 0'.padStart(11)}  ${ms(tar)} ${'tar|sha'.padStart(7)}  ${ms(skopeo)} ${'skopeo'.padStart(8)}`);
    console.log(`  binary size ${(statSync(binary).size / 2 ** 20).toFixed(0)} MiB (Node itself + the bundled script, code cache and embedded assets)`);
    console.log('  targets: --help ≤ 1.50× node -e 0; build ≤ 1.10× tar; push ≤ 1.00× skopeo');
  } finally {
    await registry.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
