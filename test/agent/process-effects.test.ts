// The agent, demo and init libraries touch no process-wide state: they log through the `log`
// they are given, stop on the AbortSignal they are given and show paths relative to the cwd
// they are given; stderr, signal handlers and the process's cwd belong to src/cli/ (DESIGN.md §7).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..', '..');
const PROCESS_EFFECT = /\bprocess\.(stdout|stderr|stdin|on|once|off|exit|cwd|chdir|kill)\b/;

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
}

test('src/agent, src/demo and src/init write to no process stream, install no signal handler and read no process cwd', () => {
  const found: string[] = [];
  for (const folder of ['agent', 'demo', 'init']) {
    for (const file of files(join(root, 'src', folder))) {
      readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
        if (PROCESS_EFFECT.test(line)) found.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`);
      });
    }
  }
  assert.deepEqual(found, []);
});
