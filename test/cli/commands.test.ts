import { test } from 'node:test';
import assert from 'node:assert/strict';
import { COMMANDS, commandHelp } from '../../src/cli/main.ts';

test('every registered command loads, carries its own name and summary, and its --help teaches with examples', async () => {
  for (const [name, entry] of Object.entries(COMMANDS)) {
    const { command } = await entry.load();
    assert.equal(command.name, name, `command file for "${name}" names itself "${command.name}"`);
    assert.equal(command.summary, entry.summary, `summary of "${name}" differs between the table and the command file`);
    const help = commandHelp(command);
    assert.match(help, new RegExp(`Usage:\\n  promote ${name}`), `usage of ${name}`);
    assert.ok((command.examples ?? []).length >= 1, `"${name}" has no examples in its --help`);
  }
});
