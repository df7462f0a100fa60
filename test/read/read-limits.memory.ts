// Issue 12 §13, the slow part (run by `npm run test:memory`, not `npm test`): peak RSS of every
// path that reads a bundle stays within BUNDLE_READ_RSS_GOAL_BYTES (256 MiB) whatever the size
// of the files it ships and however many entries it has, each measured as a real CLI process
// under /usr/bin/time -v against a real registry. Before the fixes an agent round over 4 × 64 MiB
// files peaked at 408 MiB (and at 1,141 MiB over 4 × 255 MiB): it read every file of the bundle
// into memory to render it; and over 99,000 entries render peaked at 389 MiB and an agent round
// at over 290 MiB (bench/read-memory.bench.ts measures that size; here a smaller one keeps the
// suite short: MANY_ENTRIES).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BUNDLE_READ_RSS_GOAL_BYTES } from '../../src/bundle/limits.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from '../promotion/project.ts';
import { measure, promoteShape } from './memory-shapes.ts';

const GOAL_MIB = BUNDLE_READ_RSS_GOAL_BYTES / (1024 * 1024);
const MANY_ENTRIES = 15_000;

let registry: RegistryServer;
let base: string;
let p: TestProject;
let bigDigest: string;
let manyDigest: string;
let layout: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-memory-'));
  p = await createProject(join(base, 'p'), registry.host, { name: 'memory' });
  layout = join(base, 'layout');
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

function cases(shape: string, bundle: () => string): [string, () => string[]][] {
  return [
    ['pull', () => ['pull', `${p.repository}@${bundle()}`, '--insecure', '-o', join(base, `pulled-${shape}`)]],
    ['inspect', () => ['inspect', `${p.repository}@${bundle()}`, '--insecure', '--output', 'json']],
    ['render -o', () => ['render', `oci:${layout}@${bundle()}`, '--env', 'dev', '-o', join(base, `rendered-${shape}`)]],
    ['agent --once (dir target)', () => ['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', `dir:${join(base, `target-${shape}`)}`, '--once', '--key', p.promoterKeyFile, '--insecure', '--cache-dir', join(base, `agent-cache-${shape}`), '--health-timeout', '0s']],
  ];
}

async function within(name: string, args: string[]): Promise<void> {
  const r = await measure(args, { cwd: p.dir, env: p.env });
  assert.equal(r.code, 0, r.stderr);
  console.log(`# ${name}: peak RSS ${r.maxRssMiB} MiB`);
  assert.ok(r.maxRssMiB <= GOAL_MIB, `${name} peaked at ${r.maxRssMiB} MiB, over ${GOAL_MIB} MiB`);
}

// Each shape is promoted to dev just before its runs: the agent applies what the stage holds.
describe(`reading a bundle of 4 × 64 MiB files stays under ${GOAL_MIB} MiB of RSS`, () => {
  before(async () => {
    bigDigest = await promoteShape(p, base, { kind: 'big', files: 4, mib: 64 }, 'big', layout);
  });
  for (const [name, args] of cases('big', () => bigDigest)) it(name, () => within(name, args()));
});

describe(`reading a bundle of ${MANY_ENTRIES} entries stays under ${GOAL_MIB} MiB of RSS`, () => {
  before(async () => {
    manyDigest = await promoteShape(p, base, { kind: 'many', files: MANY_ENTRIES }, 'many', layout);
  });
  for (const [name, args] of cases('many', () => manyDigest)) it(name, () => within(name, args()));
});
