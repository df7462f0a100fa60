// Which runs of the real CLI re-execute themselves with the V8 memory flags
// (src/cli/v8-memory-flags.ts). Seen from inside: node's --import runs a probe in every process
// node starts (execve keeps the pid and node's own arguments), which appends the pid, the V8
// arguments it started with and whether its stdout and stderr (pipes) were non-blocking — as a
// stream made on a pipe leaves it — to a file.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { V8_MEMORY_FLAGS } from '../../src/cli/v8-memory-flags.ts';

const bin = fileURLToPath(new URL('../../bin/promote.js', import.meta.url));
const bundle = fileURLToPath(new URL('../fixtures/podinfo-bundle', import.meta.url));

let dir: string;
let probe: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'promote-v8-flags-'));
  probe = join(dir, 'probe.mjs');
  await writeFile(
    probe,
    [
      "import { appendFileSync, readFileSync } from 'node:fs';",
      // O_NONBLOCK is 04000 in the octal `flags:` line of /proc/self/fdinfo/<fd> (Linux).
      "const nonBlocking = (fd) => (parseInt(/^flags:\\s*([0-7]+)/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'))[1], 8) & 0o4000) !== 0;",
      "const execArgv = process.execArgv.filter((a) => a.startsWith('--') && a !== '--import');",
      "appendFileSync(process.env.PROBE_FILE, JSON.stringify({ pid: process.pid, execArgv, nonBlocking: [nonBlocking(1), nonBlocking(2)] }) + '\\n');",
      '',
    ].join('\n'),
  );
});
after(() => rm(dir, { recursive: true, force: true }));

interface Start {
  pid: number;
  execArgv: string[];
  /** stdout, stderr */
  nonBlocking: [boolean, boolean];
}

let n = 0;
/** Runs promote with the probe; returns its exit code, stderr and the processes it started as. */
async function starts(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string; starts: Start[] }> {
  const file = join(dir, `starts-${n++}.jsonl`);
  const { NODE_OPTIONS: _, ...parent } = process.env;
  const r = spawnSync(process.execPath, ['--import', probe, bin, ...args], { cwd: dir, encoding: 'utf8', env: { ...parent, NO_COLOR: '1', PROBE_FILE: file, ...env } });
  const lines = (await readFile(file, 'utf8')).trim().split('\n');
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, starts: lines.map((l) => JSON.parse(l) as Start) };
}

const missingLayout = () => `oci:${join(dir, 'no-layout')}@sha256:${'0'.repeat(64)}`;

test('render of a source directory runs in the process it started in: no re-execution', async () => {
  const r = await starts(['render', bundle, '--env', 'staging']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^kind: Deployment$/m);
  assert.deepEqual(r.starts.map((s) => s.execArgv), [[]]);
});

test('render of a pushed bundle re-executes itself once, in place, with the memory flags and its pipes as it got them, and reports as before', async () => {
  const r = await starts(['render', missingLayout(), '--env', 'staging']);
  assert.equal(r.starts.length, 2);
  assert.equal(r.starts[1]!.pid, r.starts[0]!.pid);
  assert.deepEqual(r.starts.map((s) => s.execArgv), [[], V8_MEMORY_FLAGS]);
  // Non-blocking pipes would make the re-executed process's writes, and those of anyone sharing
  // the pipes (a parent such as /usr/bin/time), fail with EAGAIN.
  assert.deepEqual(r.starts.map((s) => s.nonBlocking), [[false, false], [false, false]]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: pulling oci:.*no-layout@sha256:0{64} failed: .* is not an OCI image layout/m);
});

test('pull, inspect and verify re-execute at once; --help and commands that read no bundle do not', async () => {
  for (const cmd of ['pull', 'inspect', 'verify']) {
    const r = await starts([cmd, missingLayout()]);
    assert.deepEqual(r.starts.map((s) => s.execArgv), [[], V8_MEMORY_FLAGS], cmd);
  }
  for (const args of [['render', '--help'], ['--help'], ['validate', bundle]]) {
    const r = await starts(args);
    assert.deepEqual(r.starts.map((s) => s.execArgv), [[]], args.join(' '));
  }
});

test('a --max-semi-space-size of the user (NODE_OPTIONS) is left alone: no re-execution', async () => {
  const r = await starts(['render', missingLayout(), '--env', 'staging'], { NODE_OPTIONS: '--max-semi-space-size=8' });
  assert.equal(r.starts.length, 1);
  assert.ok(!r.starts[0]!.execArgv.includes('--optimize-for-size'));
  assert.equal(r.code, 1);
});
