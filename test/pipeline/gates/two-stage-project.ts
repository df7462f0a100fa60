import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A temporary project whose pipeline `webapp` has two stages, `to` promoted from `from`, with
 * `gates` (YAML lines indented for the gates list) on `to`: what a gate kind's loader tests need.
 * The pipeline's gates start at line 13, which the tests' expected problems name.
 */
export async function twoStageProject(t: { after(fn: () => Promise<void>): void }, stages: { from: string; to: string }, gates: string): Promise<{ dir: string; file: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'promote-gate-project-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await mkdir(join(dir, 'pipelines'));
  await mkdir(join(dir, 'environments'));
  for (const e of [stages.from, stages.to]) await writeFile(join(dir, 'environments', `${e}.yaml`), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: ${e}}\nspec: {parameters: {}}\n`);
  const file = join(dir, 'pipelines', 'webapp.yaml');
  await writeFile(file, `apiVersion: promote/v1
kind: Pipeline
metadata: {name: webapp}
spec:
  repository: oci:./.promote/registry/webapp
  trust: {bundles: [keys/ci.pub], promotions: [keys/promoter.pub]}
  stages:
    - {name: ${stages.from}, environment: ${stages.from}}
    - name: ${stages.to}
      environment: ${stages.to}
      from: ${stages.from}
      gates:
${gates}
`);
  return { dir, file };
}
