import { isPromoteError } from '../errors.ts';
import { stageOrder } from '../pipeline/load.ts';
import type { Stage } from '../pipeline/pipeline.ts';
import { stageRepository } from '../pipeline/pipeline.ts';
import { checkParameters } from './bundle-checks.ts';
import type { Project } from './project.ts';
import { clusterValues, parametersDigest, renderedWithDigest, type PromotionRecord } from '../records/promotion-record.ts';
import type { RecordRollout } from '../records/rollout.ts';
import { activeHold } from './stage-file.ts';
import { readTaggedRecord } from './signed-record.ts';

// The desired side of `promote status`: per stage, what the ledger says it runs and whether the
// registry's signed record agrees. A ledger commit whose record was never published (the publish
// failed after the commit) shows as a gap until `promote to <stage>` is run again. The stage's
// environment file is resolved against the schema of the bundle it runs, so a change nobody has
// promoted yet shows as "parameters pending" and one that breaks the schema as "invalid" (the
// stage keeps running its last good record either way).

/** The stage's environment now, against the parameters of its current record. */
export interface ParametersState {
  /** `current`: the record carries them; `pending`: they changed (a configuration change to promote); `invalid`: they break the bundle's schema; `unknown`: could not be checked. */
  state: 'current' | 'pending' | 'invalid' | 'unknown';
  /** parametersDigest() of the record. */
  recorded: string;
  /** parametersDigest() of the environment now, when valid. */
  environment?: string;
  /** Why invalid or unknown. */
  summary?: string;
}

export interface StageSummary {
  stage: string;
  environment: string;
  from?: string;
  /** Bundle digest recorded in the ledger. */
  bundle?: string;
  /** Digest of the ledger's promotion record. */
  record?: string;
  action?: string;
  promotedBy?: string;
  promotedAt?: string;
  held: boolean;
  hold?: { by: string; at: string; reason?: string };
  /** The artefact at promotion-<stage>, and the record (and number) it carries when signed by trust.promotions. */
  published?: { digest: string; record?: string; sequence?: number };
  /** True when the ledger has a record the registry does not publish (re-run `promote to`). */
  publishGap: boolean;
  /** How promotion-<stage> disagrees with the ledger's head, in words (absent when they agree). */
  tagDisagreement?: string;
  parameters?: ParametersState;
  /** The current record's rollout in waves, when it has one. */
  rollout?: RecordRollout;
  /** With a rollout: per cluster, what its report must say it rendered with under the current record (renderedWithDigest). */
  renderedWith?: Record<string, string>;
}

async function parametersState(project: Project, stage: Stage, record: PromotionRecord): Promise<ParametersState> {
  const recorded = parametersDigest(record);
  try {
    // The bundle's manifest and config (the schema), never its content: two small reads.
    const facts = await checkParameters(project, await project.registryFor(record.bundle.repository), stage, record.bundle.digest);
    if (!facts.values) return { state: 'invalid', recorded, summary: facts.parameters.summary };
    const environment = parametersDigest({ parameters: facts.values.environment, clusters: facts.values.clusters });
    return { state: environment === recorded ? 'current' : 'pending', recorded, environment };
  } catch (err) {
    if (!isPromoteError(err)) throw err;
    return { state: 'unknown', recorded, summary: err.message };
  }
}

function tagDisagreement(stage: string, sequence: number | undefined, record: string | undefined, tagged: Awaited<ReturnType<typeof readTaggedRecord>>): string | undefined {
  const tag = `promotion-${stage}`;
  if (!record) return tagged ? `${tag} holds a record, the ledger none` : undefined;
  if (!tagged) return `${tag} is missing: the ledger's head is record #${sequence}; run promote to ${stage} to publish it`;
  if (tagged.record === undefined) return `${tag} does not hold a record signed by trust.promotions (${tagged.problem ?? 'unverified'}); run promote to ${stage} to republish the ledger's head`;
  if (tagged.record === record) return undefined;
  if ((tagged.sequence ?? 0) < (sequence ?? 0)) return `${tag} holds record #${tagged.sequence}, behind the ledger's head #${sequence}; run promote to ${stage} to republish it`;
  return `${tag} holds record #${tagged.sequence}, the ledger's head is #${sequence}: the ledger lost records or was rewritten; check promote history ${stage} --verify`;
}

export async function stageSummaries(project: Project): Promise<StageSummary[]> {
  await project.ledger.refresh();
  const out: StageSummary[] = [];
  for (const stage of stageOrder(project.pipeline)) {
    const state = await project.ledger.read(project.pipeline.name, stage.name);
    // The tag is read as a signed record (its number too), never by its unsigned annotation.
    const tagged = await readTaggedRecord(await project.registryFor(stageRepository(project.pipeline, stage)), (await project.trust()).promotions, project.pipeline.name, stage.name);
    const published = tagged && { digest: tagged.manifest, ...(tagged.record && { record: tagged.record }), ...(tagged.sequence !== undefined && { sequence: tagged.sequence }) };
    const disagreement = tagDisagreement(stage.name, state?.record?.sequence, state?.recordDigest, tagged);
    const hold = activeHold(project.pipeline, stage, state);
    out.push({
      stage: stage.name,
      environment: stage.environment,
      ...(stage.from && { from: stage.from }),
      ...(state?.record && { bundle: state.record.bundle.digest, action: state.record.action, promotedBy: state.record.promotedBy, promotedAt: state.record.promotedAt }),
      ...(state?.recordDigest && { record: state.recordDigest }),
      held: hold !== undefined,
      ...(hold && { hold }),
      ...(published && { published }),
      publishGap: state?.recordDigest !== undefined && published?.record !== state.recordDigest,
      ...(disagreement && { tagDisagreement: disagreement }),
      ...(state?.record && { parameters: await parametersState(project, stage, state.record) }),
      ...(state?.record?.rollout && { rollout: state.record.rollout, renderedWith: renderedWithOf(state.record) }),
    });
  }
  return out;
}

function renderedWithOf(record: PromotionRecord): Record<string, string> {
  return Object.fromEntries(record.clusters.map((c) => [c.name, renderedWithDigest(record.environment, clusterValues(record, c.name))]));
}
