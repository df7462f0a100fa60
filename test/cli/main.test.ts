import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
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

test('promote --version prints the package version', () => {
  const r = run('--version');
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^promote \d+\.\d+\.\d+\n$/);
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
