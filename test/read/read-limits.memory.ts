// Issue 12 §13, the slow part (run by `npm run test:memory`, not `npm test`): peak RSS of every
// path that reads a bundle stays within BUNDLE_READ_RSS_GOAL_BYTES (256 MiB) whatever the size
// of the files it ships, each measured as a real CLI process under /usr/bin/time -v against a
// real registry. Before the fix an agent round over 4 × 64 MiB files peaked at 408 MiB (and at
// 1,141 MiB over 4 × 255 MiB): it read every file of the bundle into memory to render it.
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

let registry: RegistryServer;
let base: string;
let p: TestProject;
let digest: string;
let layout: string;
before(async () => {
  registry = await startRegistry();
  base = await mkdtemp(join(tmpdir(), 'promote-memory-'));
  p = await createProject(join(base, 'p'), registry.host, { name: 'memory' });
  layout = join(base, 'layout');
  digest = await promoteShape(p, base, { kind: 'big', files: 4, mib: 64 }, 'big', layout);
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

describe(`reading a bundle of 4 × 64 MiB files stays under ${GOAL_MIB} MiB of RSS`, () => {
  const cases: [string, () => string[]][] = [
    ['pull', () => ['pull', `${p.repository}@${digest}`, '--insecure', '-o', join(base, 'pulled')]],
    ['inspect', () => ['inspect', `${p.repository}@${digest}`, '--insecure', '--output', 'json']],
    ['render -o', () => ['render', `oci:${layout}@${digest}`, '--env', 'dev', '-o', join(base, 'rendered')]],
    ['agent --once (dir target)', () => ['agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', `dir:${join(base, 'target')}`, '--once', '--key', p.promoterKeyFile, '--insecure', '--cache-dir', join(base, 'agent-cache'), '--health-timeout', '0s']],
  ];
  for (const [name, args] of cases) {
    it(name, async () => {
      const r = await measure(args(), { cwd: p.dir, env: p.env });
      assert.equal(r.code, 0, r.stderr);
      console.log(`# ${name}: peak RSS ${r.maxRssMiB} MiB`);
      assert.ok(r.maxRssMiB <= GOAL_MIB, `${name} peaked at ${r.maxRssMiB} MiB, over ${GOAL_MIB} MiB`);
    });
  }
});
