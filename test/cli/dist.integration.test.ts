import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { cleanEnv, copyFixture, tempDir } from '../bundle/helpers.ts';

// An installed promote runs the compiled dist/, not the TypeScript sources (Node refuses to strip
// types under node_modules: TRAPS.md). Compile exactly as `npm run build` does, into a temp dir,
// and run the bundle verbs from there: this caught tsc leaving `.ts` dynamic imports unrewritten.

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

test('the compiled dist/ builds, pushes, pulls and inspects a bundle', async () => {
  await using tmp = await tempDir();
  const pkg = join(tmp.path, 'pkg');
  await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json'), '--outDir', join(pkg, 'dist')]);
  await cp(join(root, 'bin'), join(pkg, 'bin'), { recursive: true });
  await cp(join(root, 'schemas'), join(pkg, 'schemas'), { recursive: true });
  await cp(join(root, 'package.json'), join(pkg, 'package.json'));
  await symlink(join(root, 'node_modules'), join(pkg, 'node_modules'));
  const bundle = await copyFixture(tmp.path);
  const promote = (...args: string[]) => run(process.execPath, [join(pkg, 'bin', 'promote.js'), ...args], { cwd: tmp.path, env: cleanEnv() });

  const built = await promote('build', bundle);
  const pushed = await promote('push', bundle, 'oci:layout:1');
  assert.equal(pushed.stdout, `oci:layout@${built.stdout.trim()}\n`);
  await promote('pull', 'oci:layout:1', '-o', 'out');
  assert.equal(await readFile(join(tmp.path, 'out', 'bundle.yaml'), 'utf8'), await readFile(join(bundle, 'bundle.yaml'), 'utf8'));
  const inspected = JSON.parse((await promote('inspect', 'oci:layout:1', '--output', 'json')).stdout);
  assert.equal(inspected.digest, built.stdout.trim());
  await promote('copy', 'oci:layout:1', 'oci:copied');
});
