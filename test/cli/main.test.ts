import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/promote.js', import.meta.url));

function run(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('promote --help lists the commands and the exit codes', () => {
  const r = run('--help');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /Usage:\n  promote <command>/);
  assert.match(r.stdout, /Exit codes: 0 done, 1 failed, 2 usage, 3 refused/);
});

test('promote with no arguments prints help and exits 2 (usage)', () => {
  const r = run();
  assert.equal(r.code, 2);
  assert.match(r.stdout, /Commands:/);
});

test('promote --version prints the package version, the commit and the Node runtime, as `promote version` does', () => {
  const r = run('--version');
  assert.equal(r.code, 0);
  const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  assert.match(r.stdout, new RegExp(`^promote ${version.replaceAll('.', '\\.')}\ncommit  (?:[0-9a-f]{40}|unknown)( \\(with uncommitted changes\\))?\nnode    ${process.version} \\(${process.platform}-${process.arch}\\)\nfrom    a git checkout`));
  assert.equal(run('version').stdout, r.stdout);
});

test('promote version --output json: the commit of this checkout, read from git', () => {
  const r = run('version', '--output', 'json');
  assert.equal(r.code, 0);
  const info = JSON.parse(r.stdout);
  const head = spawnSync('git', ['-C', fileURLToPath(new URL('../..', import.meta.url)), 'rev-parse', 'HEAD'], { encoding: 'utf8' });
  assert.equal(info.commit, head.status === 0 ? head.stdout.trim() : 'unknown');
  assert.equal(info.node, process.version);
  assert.equal(info.runtime, 'checkout');
  assert.equal(typeof info.modified, 'boolean');
  assert.deepEqual(JSON.parse(run('--version', '--output', 'json').stdout), info);
});

test('an unknown command exits 2 with a hint, as JSON when asked', () => {
  const text = run('frobnicate');
  assert.equal(text.code, 2);
  assert.match(text.stderr, /error: unknown command "frobnicate"\nhint: /);
  const json = run('frobnicate', '--output', 'json');
  assert.equal(json.code, 2);
  const body = JSON.parse(json.stdout);
  assert.equal(body.error.code, 'USAGE');
  assert.equal(body.error.exitCode, 2);
});
