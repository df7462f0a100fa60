import { join } from 'node:path';
import { PromoteError, isPromoteError, type ErrorCode } from '../errors.ts';
import type { RendererOptions } from '../bundle/renderers/renderer.ts';
import { isNotFound } from '../oci/not-found.ts';
import type { ArtifactReader, ContentReader, Descriptor, FetchedManifest } from '../oci/registry.ts';
import type { Policy } from '../policy/policy-file.ts';
import { promotionTag } from '../records/promotion-record.ts';
import type { TrustPolicy } from '../signing/policy.ts';
import type { PromotionPredicate } from '../records/promotion-record.ts';
import type { DesiredSource, NothingToRun } from './reconcile.ts';
import type { DesiredState, Owner } from './target.ts';
import { ReplayState } from './replay-state.ts';

// The real DesiredSource: the stage's promotion record in the bundle's repository. A round that
// finds the tag unchanged costs one GET of the tag (the record's manifest, under 1 KiB). A new
// record is verified (signature by a promotion key, predicate for this pipeline, stage and
// cluster, subject = the bundle), then the bundle
// (signature by a bundle key; content digest-checked while streaming, cached on disk by digest),
// then the parameters against the bundle's own schema, and only then rendered.
//
// A record of a rollout in waves may not release this cluster yet (records/rollout.ts): then the
// cluster runs the older record the tag's record `keep`s for it, fetched by digest from the same
// repository and verified as fully as the tag's own (plus: older than it, and releasing this
// cluster itself; its own `keep` is never followed), or nothing at all when none is kept.
// `keep` may name the kept record's artefact (its manifest digest) or the record itself (its
// ledger digest, as the engine's head knows it): that one is found among the records this agent
// verified, or the one its own last signed report names — the record it keeps running.

export interface RegistrySourceOptions {
  registry: ArtifactReader;
  owner: Owner;
  /** Who may sign promotion records (the pipeline's trust.promotions). */
  promotionTrust: TrustPolicy;
  /** Who may sign bundles (trust.bundles). */
  bundleTrust: TrustPolicy;
  /** Extracted bundles, one directory per digest. */
  cacheDir: string;
  /** How the bundle's renderer binary is found and bounded (default: from process.env). */
  renderer?: RendererOptions;
  /**
   * Where the replay state (highest record number accepted) is kept: `<cache root>/agent`.
   * Default: `cacheDir`. A pre-upgrade `sequence-…` file in `cacheDir` or `legacyStateDirs` is
   * read once as a floor (replay-state.ts).
   */
  stateDir?: string;
  legacyStateDirs?: string[];
  /** The replay state to use instead of one made from stateDir (agent.ts shares it with the reporter). */
  replay?: ReplayState;
  /**
   * Rules every render must meet before it is applied (`promote agent --policy`): defence in
   * depth behind the stage's policy gate, for a record promoted past it (--force, another
   * pipeline file, a gate removed) or a render that differs on this machine.
   */
  policy?: Policy;
  /** Verified bundles' manifest descriptors by digest, shared with the status reporter (agent-parts.ts). */
  subjects?: Map<string, Descriptor>;
  /** The record (artefact digest) this agent's own last signed report names, to find a kept record by its ledger digest. */
  ownRecord?: () => Promise<string | undefined>;
}

/** How many violations a refusal names in its (signed, published) status message. */
const VIOLATIONS_NAMED = 3;

function refuse(code: ErrorCode, message: string, hint: string, bundle?: string): PromoteError {
  return new PromoteError(code, message, { outcome: 'verification', hint, ...(bundle && { details: { bundle } }) });
}

export class RegistryDesiredSource implements DesiredSource {
  private readonly o: RegistrySourceOptions;

  private readonly replay: ReplayState;
  private lastRecord: FetchedManifest | undefined;

  /** The artefact of each record verified here, by its ledger digest (bounded: the stage's records this process saw). */
  private readonly artefacts = new Map<string, string>();

  constructor(options: RegistrySourceOptions) {
    this.o = options;
    this.replay = options.replay ?? new ReplayState({
      dir: options.stateDir ?? options.cacheDir,
      repository: options.registry.name,
      owner: options.owner,
      legacyDirs: [options.cacheDir, ...(options.legacyStateDirs ?? [])],
    });
  }

  get tag(): string {
    return promotionTag(this.o.owner.stage);
  }

  async resolve(): Promise<string | undefined> {
    // A GET by tag (its digest computed from the bytes): the bytes are kept, so a new record's
    // manifest is not fetched a second time by digest in load().
    try {
      this.lastRecord = await this.o.registry.fetchManifest(this.tag);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
    return this.lastRecord.descriptor.digest;
  }

  /** The registry, answering a fetch of the record manifest resolve() read from those bytes. */
  private reader(record: string): ContentReader {
    const registry = this.o.registry;
    const kept = this.lastRecord?.descriptor.digest === record ? this.lastRecord : undefined;
    if (!kept) return registry;
    return {
      name: registry.name,
      statBlob: (digest) => registry.statBlob(digest),
      fetchBlob: (d) => registry.fetchBlob(d),
      fetchBlobBytes: (d, max) => registry.fetchBlobBytes(d, max),
      resolve: (ref) => registry.resolve(ref),
      fetchManifest: async (ref) => (ref === record ? { descriptor: { ...kept.descriptor }, bytes: kept.bytes } : registry.fetchManifest(ref)),
    };
  }

  /** The bundle a record claims to be about, read without trusting it (for the Refused report). */
  private async claimedBundle(record: string): Promise<string | undefined> {
    try {
      const m = JSON.parse((await this.reader(record).fetchManifest(record)).bytes.toString('utf8')) as { subject?: { digest?: string } };
      return m.subject?.digest;
    } catch {
      return undefined;
    }
  }

  async load(record: string): Promise<DesiredState | NothingToRun> {
    try {
      return await this.loadVerified(record);
    } catch (err) {
      if (isPromoteError(err) && err.outcome === 'verification' && err.details?.bundle === undefined) {
        const bundle = await this.claimedBundle(record);
        if (bundle) throw new PromoteError(err.code, err.message, { outcome: err.outcome, cause: err, problems: err.problems, details: { ...err.details, bundle }, ...(err.hint && { hint: err.hint }) });
      }
      throw err;
    }
  }

  private async loadVerified(record: string): Promise<DesiredState | NothingToRun> {
    const { owner, registry } = this.o;
    const [{ verifyBundle }, { verifyRecord, clusterValues, renderedWithDigest }, { clusterRelease }] = await Promise.all([import('../signing/policy.ts'), import('../records/promotion-record.ts'), import('../records/rollout.ts')]);
    // The one parser of the record format: every field typed, parameters true to their digest.
    const verified = await verifyRecord(this.reader(record), record, this.o.promotionTrust, { stage: owner.stage });
    const tagged = verified.statement.predicate;
    this.artefacts.set(tagged.recordDigest, record);
    this.checkOwner(tagged, (code, why, hint) => refuse(code, `the record at ${registry.name}:${this.tag} ${why}`, hint, tagged.bundle.digest));
    // Every valid record of the stage stays valid for ever, so whoever can move the tag could put
    // an older one back (a rollback attack, as TUF calls it). `promote to` numbers a stage's
    // records (ledger compare-and-swap, rollbacks included), so an honest tag never goes back.
    // The floor is the tag's record, also when the cluster runs an older record it keeps.
    const sequence = tagged.sequence;
    const highest = await this.replay.highest();
    if (sequence < highest) {
      throw refuse('RECORD_REPLAYED', `the record at ${registry.name}:${this.tag} is number ${sequence} of ${owner.pipeline}/${owner.stage}, older than number ${highest} this agent already accepted: an old record was put back on the tag`, `promote the stage again (promote rollback to go back on purpose); if the ledger was re-created on purpose, delete ${this.replay.path}`, tagged.bundle.digest);
    }

    const release = clusterRelease(tagged.rollout, owner.cluster);
    let run: { digest: string; p: PromotionPredicate } = { digest: record, p: tagged };
    if (!release.released) {
      const { wave, waves } = tagged.rollout!;
      if (release.keep === undefined) {
        if (sequence > highest) await this.replay.remember(sequence);
        return { nothingToRun: true, tagRecord: record, wave: release.wave, released: wave, waves: waves.length };
      }
      run = await this.kept(release.keep, record, tagged);
    }
    const p = run.p;
    const bundle = p.bundle.digest;
    const values = clusterValues({ parameters: p.parameters.values, clusters: p.clusters }, owner.cluster);

    // The bundle's manifest, read once for the signature check and the pull. Failing here, it is
    // read again by verifyBundle, which says what is wrong (missing, not that artefact).
    const manifest = await registry.fetchManifest(bundle).catch(() => undefined);
    await verifyBundle(registry, bundle, this.o.bundleTrust, manifest ? { manifest } : {});
    const { pullInto } = await import('../artifact/pull.ts');
    const pulled = await pullInto(registry, bundle, join(this.o.cacheDir, bundle.replace(':', '-')), manifest);
    // The reports about this bundle name it as their subject: no HEAD to learn its descriptor.
    if (manifest) this.o.subjects?.set(bundle, { mediaType: manifest.descriptor.mediaType, digest: bundle, size: manifest.bytes.length });
    const { contract } = pulled;

    const { parameterSchema } = await import('../params/parameter-schema.ts');
    const schema = parameterSchema(contract.parameterSchema, `${registry.name}@${bundle}:parameters`);
    if (!schema.validate(values)) {
      const { schemaProblems } = await import('../params/schema-problems.ts');
      const problems = schemaProblems(schema.validate.errors ?? []);
      throw new PromoteError('PARAMETERS_INVALID', `the recorded parameters for ${owner.cluster} do not satisfy the bundle's schema: ${problems.length} problem${problems.length === 1 ? '' : 's'}`, {
        outcome: 'verification',
        problems,
        hint: 'fix the environment and promote again; nothing was applied',
        details: { bundle },
      });
    }
    const { isOnDisk } = await import('../bundle/render.ts');
    const { renderPulled } = await import('../bundle/render-pulled.ts');
    let rendered;
    try {
      rendered = await renderPulled(pulled, { params: values, promote: { stage: owner.stage, environment: p.environment, cluster: owner.cluster, digest: bundle } }, this.o.renderer);
    } catch (err) {
      // The report of a bundle that could not render is about that bundle, and names its renderer.
      if (!isPromoteError(err)) throw err;
      throw new PromoteError(err.code, err.message, { outcome: err.outcome, cause: err, problems: err.problems, details: { ...err.details, bundle, renderer: contract.renderer.kind }, ...(err.hint && { hint: err.hint }) });
    }
    // Judged before the record counts as accepted: a refused record is not applied, and not remembered.
    if (this.o.policy) await enforcePolicy(this.o.policy, rendered.files, { stage: owner.stage, cluster: owner.cluster, digest: bundle, renderer: contract.renderer.kind });
    if (sequence > highest) await this.replay.remember(sequence);
    return {
      owner,
      recordDigest: run.digest,
      ...(run.digest !== record && { tagRecord: record }),
      bundleDigest: bundle,
      parameters: renderedWithDigest(p.environment, values),
      renderer: { kind: rendered.renderer.kind, ...(rendered.renderer.version !== undefined && { version: rendered.renderer.version }) },
      files: rendered.files.map((f) => (isOnDisk(f) ? { path: f.path, source: f.source, size: f.size } : { path: f.path, content: typeof f.content === 'string' ? Buffer.from(f.content) : f.content, ...(f.documents && { documents: f.documents }) })),
    };
  }

  /** Refuses a record of another pipeline, or one whose clusters do not include this agent's. */
  private checkOwner(p: PromotionPredicate, fail: (code: ErrorCode, why: string, hint: string) => PromoteError): void {
    const { owner } = this.o;
    if (p.pipeline !== owner.pipeline) {
      throw fail('RECORD_WRONG_PIPELINE', `is for pipeline ${JSON.stringify(p.pipeline)}, not ${owner.pipeline}`, 'the tag holds another pipeline\'s record; it was copied — do not deploy it');
    }
    if (p.clusters.length > 0 && !p.clusters.some((c) => c.name === owner.cluster)) {
      throw fail('RECORD_WRONG_CLUSTER', `for ${owner.pipeline}/${owner.stage} does not include cluster ${owner.cluster} (it is for ${p.clusters.map((c) => c.name).join(', ')})`, 'check --cluster, or add the cluster to the stage\'s environment and promote again');
    }
  }

  /**
   * The record `tagged` (at `record` on the tag) keeps running on this cluster, at `digest` in the
   * same repository: signed by trust.promotions, of this pipeline, stage and cluster, older than
   * `tagged`, and releasing this cluster itself. One step: its own `keep` is never followed, so
   * a chain of records cannot walk the agent back to any record the promoter ever signed.
   */
  private async kept(digest: string, record: string, tagged: PromotionPredicate): Promise<{ digest: string; p: PromotionPredicate }> {
    const { owner, registry } = this.o;
    const [{ verifyRecord, recordDigest, recordOf }, { clusterRelease }] = await Promise.all([import('../records/promotion-record.ts'), import('../records/rollout.ts')]);
    const wave = clusterRelease(tagged.rollout, owner.cluster).wave;
    const what = `record ${tagged.sequence} at ${registry.name}:${this.tag} (${record}) does not release wave ${wave}, where ${owner.cluster} is, and keeps ${digest} running there`;
    const hint = 'the record names a kept record the agent cannot run; promote the stage again (or release the wave); the target keeps what it runs';
    const invalid = (why: string, cause?: unknown) => new PromoteError('RECORD_KEEP_INVALID', `${what}, but ${why}`, { outcome: 'verification', hint, details: { bundle: tagged.bundle.digest, keep: digest }, ...(cause !== undefined && { cause }) });
    const verify = (reference: string) => verifyRecord(registry, reference, this.o.promotionTrust, { stage: owner.stage }).then((v) => v.statement.predicate);
    // A record that is gone or does not verify is refused; a registry that cannot be reached fails the round.
    const refusable = (err: unknown) => isPromoteError(err) && (err.outcome === 'verification' || err.code === 'RECORD_NOT_FOUND');
    let found: { digest: string; p: PromotionPredicate } | undefined;
    try {
      found = { digest, p: await verify(digest) };
    } catch (err) {
      if (!refusable(err)) throw err;
      if (!isPromoteError(err, 'RECORD_NOT_FOUND')) throw invalid(`that record does not verify: ${(err as PromoteError).message}`, err);
      // Not an artefact: the record's own digest. The signed record must hash to it.
      const candidates = [this.artefacts.get(digest), await this.o.ownRecord?.().catch(() => undefined)];
      for (const artefact of new Set(candidates.filter((c): c is string => c !== undefined))) {
        const p = await verify(artefact).catch((e: unknown) => (refusable(e) ? undefined : Promise.reject(e)));
        if (p && recordDigest(recordOf(p)) === digest) {
          found = { digest: artefact, p };
          break;
        }
      }
      if (!found) throw invalid('that record is not in the repository (no artefact has that digest, and no record this agent verified or last reported is that record)', err);
    }
    const { p } = found;
    this.checkOwner(p, (_code, why) => invalid(`that record ${why}`));
    if (p.sequence >= tagged.sequence) throw invalid(`that record is number ${p.sequence}, not older than the record that keeps it (${tagged.sequence})`);
    const own = clusterRelease(p.rollout, owner.cluster);
    if (!own.released) throw invalid(`that record (number ${p.sequence}) does not release ${owner.cluster} either (its wave ${own.wave} is not released there)`);
    this.artefacts.set(p.recordDigest, found.digest);
    return found;
  }
}

/** Throws POLICY_VIOLATION (outcome refused: the agent reports Refused, applies nothing) when the render breaks the policy. */
async function enforcePolicy(policy: Policy, files: Parameters<typeof import('../policy/rendered-objects.ts').renderedObjects>[0], at: { stage: string; cluster: string; digest: string; renderer: string }): Promise<void> {
  const [{ renderedObjects }, { evaluatePolicy, violationLine }] = await Promise.all([import('../policy/rendered-objects.ts'), import('../policy/evaluate.ts')]);
  const found = renderedObjects(files);
  const details = { bundle: at.digest, renderer: at.renderer, policy: policy.name };
  if ('unreadable' in found) throw new PromoteError('POLICY_VIOLATION', `policy ${policy.name} cannot judge ${found.unreadable}: it rendered without readable documents`, { outcome: 'refused', details });
  const report = evaluatePolicy(policy.rules, [{ cluster: at.cluster, objects: found.objects }], { stage: at.stage, digest: at.digest });
  const total = report.violations.length + report.more;
  if (total === 0) return;
  const named = report.violations.slice(0, VIOLATIONS_NAMED).map((v) => violationLine(v).slice(at.cluster.length + 2));
  const rest = total > named.length ? `; and ${total - named.length} more` : '';
  throw new PromoteError('POLICY_VIOLATION', `policy ${policy.name} refuses the render: ${total} violation${total === 1 ? '' : 's'}: ${named.join('; ')}${rest}`, {
    outcome: 'refused',
    hint: 'fix the bundle or the parameters and promote again; the target keeps its last good state',
    details: { ...details, violations: report.violations.slice(0, 20).map((v) => ({ object: v.object, file: v.file, index: v.index, rule: v.rule, message: v.message })) },
  });
}
