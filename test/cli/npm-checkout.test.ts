import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile as copy, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { tempDir } from '../bundle/helpers.ts';

// A clone as a new user meets it: `npm ci` on the machine's own (older) Node, then promote through
// npm from wherever they are.

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));

/** The system's Node (Debian's is 20, older than `engines`), else this one. */
function systemNode(): string {
  for (const candidate of ['/usr/bin/node', '/usr/local/bin/node']) if (existsSync(candidate)) return candidate;
  return process.execPath;
}

async function npmCi(dir: string): Promise<string[]> {
  const node = systemNode();
  const npm = execFileSync(node, ['-e', "process.stdout.write(require('path').join(require('path').dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js'))"], { encoding: 'utf8' });
  const cli = existsSync(npm) ? npm : execFileSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).trim();
  const r = await run(node, [cli, 'ci', '--dry-run', '--no-audit', '--no-fund'], { cwd: dir, env: { PATH: '/usr/bin:/bin', HOME: dir }, maxBuffer: 16 * 1024 * 1024 });
  return `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => /^npm (warn|WARN)/.test(l));
}

test('npm ci on the system Node prints no warnings (the .npmrc), where it would print EBADENGINE for every dependency', { timeout: 120_000 }, async () => {
  await using tmp = await tempDir();
  for (const f of ['package.json', 'package-lock.json']) await copy(join(root, f), join(tmp.path, f));
  // Without the warning setting, but with the rest of the .npmrc (legacy-peer-deps: the lock file
  // is written without the layer package's aws-cdk-lib peer, and npm ci refuses it otherwise).
  const npmrc = await readFile(join(root, '.npmrc'), 'utf8');
  await writeFile(join(tmp.path, '.npmrc'), npmrc.replace(/^loglevel=.*$/m, ''));
  const without = await npmCi(tmp.path);
  await copy(join(root, '.npmrc'), join(tmp.path, '.npmrc'));
  assert.deepEqual(await npmCi(tmp.path), []);
  const old = execFileSync(systemNode(), ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim();
  if (Number(old.split('.')[0]) < 22) assert.ok(without.filter((l) => l.includes('EBADENGINE')).length > 10, `Node ${old} without the .npmrc: ${without.length} warning lines`);
});

test('npm run -s promote -- resolves relative paths against the directory it is typed in', async () => {
  await using tmp = await tempDir();
  const r = await run('npm', ['--prefix', root, 'run', '-s', 'promote', '--', 'init', 'here', '--name', 'here'], { cwd: tmp.path, env: { ...process.env, PROMOTE_PASSWORD: 'npm-run-test' } });
  assert.match(r.stdout, /created project here in here:/);
  assert.ok(existsSync(join(tmp.path, 'here', 'pipelines', 'here.yaml')));
  assert.ok(!existsSync(join(root, 'here')), 'nothing written into the checkout');
});
