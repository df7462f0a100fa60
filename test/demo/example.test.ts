import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

// The example at the top of the repository (pipelines/, environments/, bundles/webapp) is what
// `promote demo` runs and what the README shows: it must always validate, bundle included.

const run = promisify(execFile);
const root = join(import.meta.dirname, '..', '..');

test('promote validate passes on the top-level example, checking every environment against the webapp bundle schema', async () => {
  const { stdout } = await run(process.execPath, [join(root, 'bin', 'promote.js'), 'validate', '--output', 'json'], { cwd: root });
  const report = JSON.parse(stdout) as { bundle?: { name: string; dir: string }; pipelines: string[]; environments: { name: string; clusters: string[]; parametersChecked: boolean }[] };
  assert.equal(report.bundle?.name, 'webapp');
  assert.match(report.bundle!.dir, /bundles[/\\]webapp$/);
  assert.equal(report.pipelines.length, 1);
  assert.deepEqual(
    report.environments.map((e) => [e.name, e.clusters, e.parametersChecked]),
    [
      ['dev', ['dev-1'], true],
      ['production', ['prod-eu-1', 'prod-us-1'], true],
      ['staging', ['staging-eu-1', 'staging-us-1'], true],
    ],
  );
});
