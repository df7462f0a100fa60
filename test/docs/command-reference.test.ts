import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { commandReference, currentReference, README } from '../../scripts/gen-command-reference.ts';

// The README's command reference is generated from `--help`; this fails as soon as a command,
// an option, a description or an example changes without the README being regenerated.

test('README.md command reference equals the current --help of every command', async () => {
  const readme = await readFile(README, 'utf8');
  const current = currentReference(readme);
  assert.ok(current !== undefined, 'README.md has the command reference markers');
  const expected = await commandReference();
  assert.ok(current === expected, 'README.md command reference is stale: run `npm run docs:commands` and commit README.md');
});

test('the generated reference covers every command with its usage and examples', async () => {
  const { COMMANDS } = await import('../../src/cli/main.ts');
  const reference = await commandReference();
  for (const name of Object.keys(COMMANDS)) {
    assert.ok(reference.includes(`<code>promote ${name}</code>`), `${name} has a section`);
  }
  assert.match(reference, /Usage:\n {2}promote demo/);
  assert.match(reference, /Examples:\n {2}# /);
});
