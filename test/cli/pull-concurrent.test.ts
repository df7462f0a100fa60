import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from '../../src/artifact/build.ts';
import { BIN, cleanEnv, FIXTURE } from '../bundle/helpers.ts';
import { promote } from './run-promote.ts';

// `promote pull -o` beside other writers, through the real CLI: a pull that fails must not remove
// what a concurrent pull put into the parent directory it created, and a pull killed with -9
// leaves a temp directory that the next pull there removes (its writer is gone).

function start(args: string[], cwd: string, env: NodeJS.ProcessEnv): { child: ChildProcess; done: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: 'ignore' });
  return { child, done: new Promise((resolve) => child.once('exit', (code) => resolve(code))) };
}

async function stopWhen(child: ChildProcess, dir: string, pattern: RegExp): Promise<boolean> {
  let gone = false;
  child.once('exit', () => (gone = true));
  while (!gone) {
    if ((await readdir(dir).catch(() => [] as string[])).some((n) => pattern.test(n))) {
      child.kill('SIGSTOP');
      return true;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  return false;
}

test('a failing pull leaves a concurrent pull\'s output in the directory it created; a killed pull\'s temp directory is swept by the next', async (t) => {
  const work = await mkdtemp(join(tmpdir(), 'promote-pull-concurrent-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const big = join(work, 'big');
  await cp(FIXTURE, big, { recursive: true });
  await mkdir(join(big, 'files', 'many'), { recursive: true });
  for (let i = 0; i < 3000; i++) await writeFile(join(big, 'files', 'many', `f-${i}.txt`), `${i}\n`);
  await build(big, { ociLayout: join(work, 'layout'), tag: 'big' });
  await build(FIXTURE, { ociLayout: join(work, 'layout'), tag: 'small' });
  const env = cleanEnv({ NO_COLOR: '1' });
  const parent = join(work, 'new');

  // Pull A creates new/ and is stopped mid-extraction; meanwhile two other pulls fill new/b and new/a.
  const a = start(['pull', 'oci:layout:big', '-o', 'new/a'], work, env);
  assert.ok(await stopWhen(a.child, parent, /^\.a\..*promote-pull/), 'pull A finished before it could be stopped');
  for (const out of ['new/b', 'new/a']) {
    const r = await promote(['pull', 'oci:layout:small', '-o', out], { cwd: work, env });
    assert.equal(r.code, 0, r.stderr);
  }
  a.child.kill('SIGCONT');
  assert.equal(await a.done, 1, 'A cannot move its directory onto the non-empty new/a');
  assert.deepEqual((await readdir(parent)).sort(), ['a', 'b'], "the other pulls' outputs are still there, A's temp directory is gone");
  assert.ok((await readdir(join(parent, 'b'))).includes('bundle.yaml'));

  // Pull C is killed with -9 (no cleanup runs); the next pull beside it removes C's leftovers.
  const c = start(['pull', 'oci:layout:big', '-o', 'new/c'], work, env);
  assert.ok(await stopWhen(c.child, parent, /^\.c\..*promote-pull/), 'pull C finished before it could be stopped');
  c.child.kill('SIGKILL');
  await c.done;
  assert.equal((await readdir(parent)).filter((n) => n.includes('promote-pull')).length, 1);
  const d = await promote(['pull', 'oci:layout:small', '-o', 'new/d'], { cwd: work, env });
  assert.equal(d.code, 0, d.stderr);
  assert.deepEqual((await readdir(parent)).sort(), ['a', 'b', 'd']);
});
