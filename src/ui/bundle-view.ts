import { PromoteError } from '../errors.ts';
import { stageOrder } from '../pipeline/load.ts';
import type { InspectResult } from '../artifact/inspect.ts';
import type { CheckResult } from '../pipeline/plan.ts';
import type { HistoryItem } from '../promotion/history.ts';
import type { Project } from '../promotion/project.ts';
import { redactDeep } from '../redact.ts';
import { errorView, type ErrorView } from './pipeline-view.ts';

// The bundle view: one digest's journey across the stages (their ledger entries naming it), its
// signature under trust.bundles and who signed it, what it is (`promote inspect --no-files`),
// and the parameters every stage's environment gives it, resolved against the schema the
// bundle ships (the check `plan` makes). Secrets stay references: parameters hold
// `{secretRef: …}` values, never what they point at. The rendered diff between two stages is
// the plan of one with the other's bundle (`/api/plan/<stage>?bundle=…`), so it is `plan`'s diff.

export interface JourneyStep extends HistoryItem {
  stage: string;
}

export interface StageParameters {
  stage: string;
  environment: string;
  /** The stage runs this bundle now (its ledger record names it). */
  runs: boolean;
  check: CheckResult;
  parameters?: Record<string, unknown>;
  clusters?: { name: string; parameters: Record<string, unknown> }[];
  /** The schema's secret pointers: shown by reference name only. */
  secrets?: string[];
}

export interface BundleView {
  digest: string;
  repository: string;
  signature: CheckResult;
  inspect?: InspectResult;
  inspectError?: ErrorView;
  /** Oldest first. */
  journey: JourneyStep[];
  stages: StageParameters[];
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** Ledger entries read per stage to find a bundle's journey. */
const JOURNEY_DEPTH = 200;

export async function bundleView(project: Project, digest: string): Promise<BundleView> {
  if (!DIGEST.test(digest)) throw new PromoteError('UI_BAD_REQUEST', `"${digest.slice(0, 80)}" is not a bundle digest`, { outcome: 'usage', hint: 'use the whole digest: sha256: and 64 hex digits' });
  const { history } = await import('../promotion/history.ts');
  const { checkParameters, checkSignature } = await import('../promotion/bundle-checks.ts');
  const { inspect } = await import('../artifact/inspect.ts');
  const repository = project.pipeline.repository;
  const registry = project.registry;
  const signature = await checkSignature(project, registry, digest);
  const journey: JourneyStep[] = [];
  const stages: StageParameters[] = [];
  for (const stage of stageOrder(project.pipeline)) {
    for (const item of await history(project, stage.name, JOURNEY_DEPTH)) if (item.bundle === digest) journey.push({ stage: stage.name, ...item });
    const state = await project.ledger.read(project.pipeline.name, stage.name);
    const entry: StageParameters = { stage: stage.name, environment: stage.environment, runs: state?.record?.bundle.digest === digest, check: { passed: false, summary: 'not checked: the bundle is not in the repository' } };
    if (signature.code !== 'BUNDLE_NOT_FOUND') {
      const facts = await checkParameters(project, registry, stage, digest);
      entry.check = facts.parameters;
      if (facts.values) Object.assign(entry, { parameters: facts.values.environment, clusters: facts.values.clusters, secrets: facts.values.secrets });
    }
    stages.push(entry);
  }
  journey.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
  const view: BundleView = { digest, repository, signature, journey, stages };
  try {
    view.inspect = await inspect(`${repository}@${digest}`, { ...project.options.registry, env: project.options.env, cwd: project.root, noFiles: true });
  } catch (err) {
    view.inspectError = errorView(err);
  }
  return redactDeep(view);
}
