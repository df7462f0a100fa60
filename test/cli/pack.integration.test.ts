import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../bundle/helpers.ts';
import { ASSETS } from '../../src/assets.ts';
import { imageContext } from '../../scripts/image-context.ts';
import { missingSources, parseDockerfile, stagesBuilt } from '../deploy/dockerfile.ts';

// The npm package as a user gets it: `npm pack` (its prepack builds dist/ and stamps the commit)
// in a copy of this checkout that is its own git repository, `npm install -g` of the tarball
// into a temp prefix, then `promote` from that prefix's bin/, run from another directory. A
// build in the real checkout would race other tests; the copy's node_modules is this one's.

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const COPIED = ['package.json', 'README.md', 'tsconfig.json', 'tsconfig.build.json', '.npmrc', 'bin', 'src', 'schemas', 'web', 'docs', 'scripts/build.ts', 'scripts/build-info.ts'];

test('the packed tarball installs into a prefix and its promote runs init, validate and demo from another directory', { timeout: 300_000 }, async () => {
  await using tmp = await tempDir('promote-pack-');
  const checkout = join(tmp.path, 'checkout');
  for (const path of COPIED) {
    await mkdir(dirname(join(checkout, path)), { recursive: true });
    await cp(join(root, path), join(checkout, path), { recursive: true });
  }
  await symlink(join(root, 'node_modules'), join(checkout, 'node_modules'));
  // Left from a binary build: must not be packed.
  await mkdir(join(checkout, 'dist', 'sea'), { recursive: true });
  await writeFile(join(checkout, 'dist', 'promote-linux-x64'), 'not for the npm package\n');
  await writeFile(join(checkout, 'dist', 'sea', 'promote.cjs'), '\n');
  const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@example.com', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@example.com' };
  await run('git', ['init', '-q', checkout]);
  await writeFile(join(checkout, '.gitignore'), 'node_modules\ndist/\n');
  await run('git', ['-C', checkout, 'add', '-A']);
  await run('git', ['-C', checkout, 'commit', '-qm', 'release'], { env: gitEnv });
  const commit = (await run('git', ['-C', checkout, 'rev-parse', 'HEAD'])).stdout.trim();

  // npm is the one beside the Node running this test or the system's; scripts run on this Node.
  const npmEnv = { ...process.env, PATH: `${dirname(process.execPath)}:${process.env.PATH}` };
  const packed = await run('npm', ['pack', '--json', '--pack-destination', tmp.path], { cwd: checkout, env: npmEnv, maxBuffer: 16 * 1024 * 1024 });
  const [report] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[\n'))) as Array<{ filename: string; files: Array<{ path: string }> }>;
  const files = report!.files.map((f) => f.path);
  for (const asset of ASSETS) assert.ok(files.includes(asset), `${asset} is packed`);
  for (const path of ['bin/promote.js', 'dist/cli/main.js', 'dist/cli/commands/demo.js', 'README.md', 'docs/agent.md']) assert.ok(files.includes(path), `${path} is packed`);
  assert.deepEqual(files.filter((f) => f.startsWith('src/') || f.startsWith('dist/sea/') || f.startsWith('dist/promote-') || f === '.npmrc'), [], 'no sources, binary or npm settings');

  const prefix = join(tmp.path, 'prefix');
  const tarball = join(tmp.path, report!.filename);
  await run('npm', ['install', '--global', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', tarball], { cwd: tmp.path, env: npmEnv, maxBuffer: 16 * 1024 * 1024 });

  const work = join(tmp.path, 'work');
  await mkdir(work);
  const env = { PATH: `${join(prefix, 'bin')}:${dirname(process.execPath)}:/usr/bin:/bin`, HOME: tmp.path, PROMOTE_PASSWORD: 'pack-test', NO_COLOR: '1' };
  const promote = (args: string[], cwd = work) => run('promote', args, { cwd, env, maxBuffer: 16 * 1024 * 1024 });

  assert.match((await promote(['--help'])).stdout, /^Usage:\n  promote <command>/m);
  const version = JSON.parse((await promote(['version', '--output', 'json'])).stdout);
  assert.deepEqual({ runtime: version.runtime, commit: version.commit, modified: version.modified }, { runtime: 'package', commit, modified: false });
  await promote(['init', 'shop']);
  assert.ok((await readFile(join(work, 'shop', 'pipelines', 'shop.yaml'), 'utf8')).includes('kind: Pipeline'), 'init wrote into the caller\'s directory');
  assert.match((await promote(['validate'], join(work, 'shop'))).stdout, /pipeline pipelines\/shop\.yaml: valid/);
  const demo = JSON.parse((await promote(['demo', '--project', 'shop', '--output', 'json'])).stdout);
  assert.equal(demo.project, join(work, 'shop'));
  assert.ok(demo.status.every((row: { phase: string }) => row.phase === 'Converged'), JSON.stringify(demo.status));

  // The agent image's package context holds what its Dockerfile copies.
  const ctx = join(tmp.path, 'ctx');
  imageContext({ from: 'package', out: ctx, tarball });
  assert.deepEqual(missingSources(stagesBuilt(parseDockerfile(await readFile(join(ctx, 'Dockerfile'), 'utf8')), { PROMOTE_FROM: 'package' }), ctx), []);
});
