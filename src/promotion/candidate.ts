import { PromoteError } from '../errors.ts';
import { formatReference, isValidDigest, parseReference, repositoryName, resolveLayout, sameRepository } from '../oci/reference.ts';
import type { Registry } from '../oci/registry.ts';
import { stageRepository, type Pipeline, type Stage } from '../pipeline/pipeline.ts';
import { parseDigestInput, pickDigest } from './digest-input.ts';
import type { Project, StageLookup } from './project.ts';

// Which bundle a command means: where a stage's candidates come from, and the digest a user's
// `--bundle`, `approve <bundle>` or `rollback --to` names there.

/** The repository a stage's candidates come from: its `from` stage's, or its own for a first stage. */
export function sourceRepository(pipeline: Pipeline, { stage, upstream }: StageLookup): string {
  return stageRepository(pipeline, upstream ?? stage);
}

/** The stage and the one it takes bundles from: whose ledger knows a candidate's digest. */
export function withUpstream({ stage, upstream }: StageLookup): Stage[] {
  return upstream ? [stage, upstream] : [stage];
}

/** The bundle digests promote can see for `stages` in `registry`: their ledger, and the repository's tags. */
async function knownDigests(project: Project, registry: Registry, stages: Stage[]): Promise<string[]> {
  const out: string[] = [];
  for (const stage of stages) {
    const state = await project.ledger.read(project.pipeline.name, stage.name);
    if (state?.record) out.push(state.record.bundle.digest);
    for (const a of state?.approvals ?? []) out.push(a.bundle);
    for (const h of await project.ledger.history(project.pipeline.name, stage.name)) {
      out.push(...(h.trailers['Promoted-Bundle'] ?? []), ...(h.trailers['Approved-Bundle'] ?? []));
    }
  }
  const { isNotFound } = await import('../oci/not-found.ts');
  const tags = await registry.listTags().catch((err: unknown) => (isNotFound(err) ? [] : Promise.reject(err)));
  // `sha256-<hex>[.sig|.att]` tags name the bundle they are about (signatures, the tag-schema
  // referrers index): free candidates. Every other tag that is not promote's own is resolved.
  const plain: string[] = [];
  for (const tag of tags) {
    const m = /^sha256-([0-9a-f]{64})(?:\.|$)/.exec(tag);
    if (m) out.push(`sha256:${m[1]}`);
    else if (!/^(promotion|status)-/.test(tag)) plain.push(tag);
  }
  const { forEachConcurrently } = await import('../oci/concurrency.ts');
  await forEachConcurrently(plain, 4, async (tag) => {
    const desc = await registry.resolve(tag);
    if (desc) out.push(desc.digest);
  });
  return out.filter(isValidDigest);
}

/**
 * A bundle the user named for `repository` (`--bundle`, `approve`, `rollback --to`): a digest, a
 * unique digest prefix of at least 12 hex digits (among the digests `stages` know and the
 * repository's tags), `repo@digest` or `repo:tag`. A relative `oci:` path is the caller's (their
 * working directory), as `promote push` printed it; spec.repository was resolved against the
 * pipeline's directory when it was loaded.
 */
export async function resolveCandidate(project: Project, bundle: string, repository: string, stages: Stage[]): Promise<string> {
  const digest = parseDigestInput(bundle);
  if (digest) {
    if (digest.full) return `sha256:${digest.hex}`;
    const registry = await project.registryFor(repository);
    const searched = `the ledger of ${stages.map((s) => s.name).join(' and ')} and the tags of the repository`;
    return pickDigest(digest, await knownDigests(project, registry, stages), repository, searched);
  }
  const ref = resolveLayout(parseReference(bundle), project.options.cwd);
  if (!sameRepository(ref, repository, project.root)) {
    const shown = ref.transport === 'layout' && formatReference(ref) !== bundle ? `${bundle} (${repositoryName(ref)})` : bundle;
    throw new PromoteError('BUNDLE_OTHER_REPOSITORY', `${shown} is not in ${repository}, where this stage takes its bundles from`, {
      outcome: 'usage',
      hint: `promotion never re-uploads content on its own: copy it first (promote copy ${bundle} ${repository}), then promote it by digest`,
    });
  }
  if (ref.digest) return ref.digest;
  const desc = await (await project.registryFor(repository)).resolve(ref.tag ?? 'latest');
  if (!desc) throw new PromoteError('BUNDLE_NOT_FOUND', `${bundle} does not exist`, { outcome: 'usage', hint: 'push it first (promote push), or give the digest promote push printed' });
  return desc.digest;
}
