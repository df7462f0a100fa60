import { stat } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';
import { bundlesUnder } from '../bundle/bundle-dir.ts';
import { PromoteError } from '../errors.ts';
import { isGitUrl } from '../pipeline/git-url.ts';
import type { Pipeline, Stage } from '../pipeline/pipeline.ts';
import { demoStages } from './demo-stages.ts';

// The project the demo runs on, checked before keys or state are touched: the wrong pipeline
// must not reset anything, and the demo writes only into its own state under <project>/.promote
// (or to the registry --registry names), never to a team's real registry or ledger.

export function inside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** The bundle of a project: `<root>/bundle.yaml`, else the only `bundles/<name>/`. */
export async function findBundleDir(root: string): Promise<string> {
  if (await exists(join(root, 'bundle.yaml'))) return root;
  const found = await bundlesUnder(join(root, 'bundles'));
  if (found.length === 1) return found[0]!;
  throw new PromoteError('DEMO_NO_BUNDLE', found.length ? `${root} has ${found.length} bundles under bundles/; the demo runs one` : `no bundle in ${root} (bundle.yaml or bundles/<name>/bundle.yaml)`, {
    outcome: 'usage',
    hint: 'run the demo in the promote repository, or on a project made by promote init (promote demo --project <dir>)',
  });
}

export interface DemoProject {
  pipelineFile: string;
  projectDir: string;
  /** With --registry, its repository in place of the pipeline's. */
  pipeline: Pipeline;
  /** The stages in the order the demo walks them: first (plays dev) to last (plays production). */
  stages: Stage[];
  bundleDir: string;
  /** <project>/.promote */
  state: string;
  /** The pipeline's OCI layout directory, when its repository is one. */
  layoutPath: string | undefined;
  registryIsLocal: boolean;
}

export async function openDemoProject(root: string, options: { pipeline?: string; registry?: string }, show: (path: string) => string): Promise<DemoProject> {
  const [{ findPipelineFile, loadPipeline, projectRoot }, { parseReference }] = await Promise.all([import('../pipeline/load.ts'), import('../oci/reference.ts')]);
  const pipelineFile = await findPipelineFile(root, options.pipeline);
  const projectDir = projectRoot(pipelineFile);
  let pipeline: Pipeline = await loadPipeline(pipelineFile);
  if (options.registry) {
    const ref = parseReference(options.registry);
    if (ref.tag !== undefined || ref.digest !== undefined) {
      throw new PromoteError('USAGE', `--registry takes a repository, not a tag or digest: ${options.registry}`, { outcome: 'usage', hint: 'e.g. --registry localhost:5000/acme/webapp (the demo tags its releases 1.0 and 1.1)' });
    }
    pipeline = { ...pipeline, repository: options.registry };
  }
  const stages = demoStages(pipeline, show);
  const bundleDir = await findBundleDir(projectDir);
  const state = join(projectDir, '.promote');
  const registryIsLocal = pipeline.repository.startsWith('oci:');
  // The demo pushes releases and promotes them: only into its own state, or where --registry
  // says. A pipeline that names the team's registry or ledger is not the demo's to write to.
  const parsedRepo = parseReference(pipeline.repository);
  const layoutPath = parsedRepo.transport === 'layout' ? parsedRepo.path : undefined;
  if (!options.registry && !(layoutPath && inside(state, layoutPath))) {
    throw new PromoteError('DEMO_FOREIGN_REGISTRY', `pipeline ${pipeline.name} pushes to ${pipeline.repository}; the demo only writes to an OCI layout under ${show(state)}/ unless --registry names one`, {
      outcome: 'usage',
      hint: `run promote demo --registry <a scratch repository>, or use repository: oci:./.promote/registry/${pipeline.name} (as promote init writes it)`,
    });
  }
  if (isGitUrl(pipeline.ledger.repository) || !inside(state, pipeline.ledger.repository)) {
    throw new PromoteError('DEMO_FOREIGN_LEDGER', `pipeline ${pipeline.name} records promotions in ${pipeline.ledger.repository}; the demo only writes a ledger under ${show(state)}/`, {
      outcome: 'usage',
      hint: 'set ledger: {repository: ./.promote/ledger, branch: main} for the demo (as promote init writes it)',
    });
  }

  return { pipelineFile, projectDir, pipeline, stages, bundleDir, state, layoutPath, registryIsLocal };
}
