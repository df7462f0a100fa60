import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../../bin/promote.js', import.meta.url));

function promote(...args: string[]) {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
}

test('bash completion completes command names and a command\'s options in a real bash', () => {
  const script = promote('completion', 'bash');
  assert.equal(script.status, 0, script.stderr);
  const probe = `${script.stdout}
COMP_WORDS=(promote comp); COMP_CWORD=1; _promote; echo "words:\${COMPREPLY[*]}"
COMP_WORDS=(promote completion --o); COMP_CWORD=2; _promote; echo "opts:\${COMPREPLY[*]}"`;
  const r = spawnSync('bash', ['-c', probe], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^words:completion$/m);
  assert.match(r.stdout, /^opts:--output$/m);
});

test('zsh and fish completion scripts name every command', () => {
  for (const shell of ['zsh', 'fish']) {
    const r = promote('completion', shell);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /completion/);
  }
});

test('an unsupported shell is a usage error (exit 2) naming the choices', () => {
  const r = promote('completion', 'tcsh');
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unsupported shell "tcsh"\nhint: choose one of: bash, zsh, fish/);
});
