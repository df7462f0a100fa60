import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { BIN, cleanEnv, FIXTURE, tempDir } from '../bundle/helpers.ts';

// An OCI layout shared by several writers (two `promote push`, an agent's status reports): a
// writer that died mid-push (no cleanup ran) leaves a temp file the next writer removes; a live
// writer's temp file is never removed. The writers are real processes that create their temp
// file through src/temp-file.ts, as the layout does; the sweeping writer is the real CLI.

const TEMP_WRITER = `
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempName } from ${JSON.stringify(new URL('../../src/temp-file.ts', import.meta.url).href)};
writeFileSync(join(process.argv[1], tempName('blob')), 'half a blob');
if (process.argv[2] === 'stay') { process.stdout.write('ready\\n'); setInterval(() => {}, 1000); }
`;

test('push into a layout removes a dead writer\'s temp files and keeps a live writer\'s', async () => {
  await using tmp = await tempDir();
  const layout = join(tmp.path, 'layout');
  await mkdir(layout);
  const dead = spawnSync(process.execPath, ['--input-type=module', '-e', TEMP_WRITER, layout, 'exit']);
  assert.equal(dead.status, 0, dead.stderr.toString());
  const live = spawn(process.execPath, ['--input-type=module', '-e', TEMP_WRITER, layout, 'stay'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    await new Promise((resolve) => live.stdout!.once('data', resolve));
    const before = (await readdir(layout)).filter((n) => n.endsWith('.promote-tmp'));
    assert.equal(before.length, 2);
    const r = spawnSync(process.execPath, [BIN, 'build', FIXTURE, '--oci-layout', layout, '--tag', 'v1'], { env: cleanEnv({ NO_COLOR: '1' }) });
    assert.equal(r.status, 0, r.stderr.toString());
    const after = (await readdir(layout)).filter((n) => n.endsWith('.promote-tmp'));
    assert.deepEqual(after, before.filter((n) => n.includes(`.${live.pid}-`)), "only the live writer's temp file is left");
  } finally {
    live.kill();
  }
});
