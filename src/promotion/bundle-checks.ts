import { PromoteError, type Problem } from '../errors.ts';
import { BUNDLE_CONFIG, OCI_MANIFEST } from '../oci/media-types.ts';
import type { Descriptor, ImageManifest, Registry } from '../oci/registry.ts';
import type { Stage } from '../pipeline/pipeline.ts';
import type { CheckResult } from '../pipeline/plan.ts';
import type { Project } from './project.ts';
import { shortDigest } from '../short-digest.ts';

// The two checks a candidate bundle passes before anything is signed for it: its signature
// under trust.bundles, and the stage's parameters against the schema the bundle ships. Both
// read metadata only (manifest, signatures, config blob), never the content layer. A failure
// is a CheckResult the planner turns into a blocker, not an exception.

export interface BundleFacts {
  descriptor: Descriptor;
  parameters: CheckResult;
  values?: {
    environment: Record<string, unknown>;
    clusters: { name: string; parameters: Record<string, unknown> }[];
    /** The schema's secret pointers: diffs show what is there by reference name only. */
    secrets: string[];
  };
}

/**
 * Validates the stage's parameters against the schema in the bundle's *config* blob: the
 * manifest and a few KiB of config, never the content layer (promotion is O(1) in bundle size).
 */
export async function checkParameters(project: Project, registry: Registry, stage: Stage, digest: string): Promise<BundleFacts> {
  const fetched = await registry.fetchManifest(digest);
  const manifest = JSON.parse(fetched.bytes.toString('utf8')) as ImageManifest;
  const descriptor: Descriptor = { mediaType: fetched.descriptor.mediaType || manifest.mediaType || OCI_MANIFEST, digest, size: fetched.descriptor.size };
  if (manifest.config?.mediaType !== BUNDLE_CONFIG) {
    return { descriptor, parameters: { passed: false, outcome: 'verification', code: 'NOT_A_BUNDLE', summary: `${registry.name}@${digest} is not a promote bundle (config ${manifest.config?.mediaType ?? 'missing'})`, hint: 'promote bundles are built with promote build/push' } };
  }
  const [{ parseBundleConfig }, { parameterSchema }, { loadEnvironment }, { resolveParameters }, { clusterNames }] = await Promise.all([
    import('../bundle/config.ts'),
    import('../params/parameter-schema.ts'),
    import('../params/environment.ts'),
    import('../params/parameters.ts'),
    import('../params/cluster-names.ts'),
  ]);
  const config = parseBundleConfig(await registry.fetchBlobBytes(manifest.config, 1024 * 1024), `${registry.name}@${digest} config`);
  const env = await loadEnvironment(project.root, stage.environment);
  let schema;
  try {
    schema = parameterSchema(config.parameterSchema, `${config.name}@${shortDigest(digest)} parameter schema`);
  } catch (err) {
    if (!(err instanceof PromoteError) || err.outcome !== 'verification') throw err;
    return { descriptor, parameters: { passed: false, outcome: 'verification', code: err.code, summary: err.message, ...(err.hint && { hint: err.hint }), problems: err.problems } };
  }
  // Each cluster's agent validates exactly its merged parameters (environment + its overrides),
  // so that is what is checked here, cluster by cluster: a required value set only per cluster is
  // fine, and an invalid override refuses the promotion instead of stalling one agent later.
  // An environment without clusters is one target with its own parameters.
  const targets: (string | undefined)[] = env.clusters.length ? clusterNames(env) : [undefined];
  const clusters: { name: string; parameters: Record<string, unknown> }[] = [];
  const problems: Problem[] = [];
  const failed: string[] = [];
  let first: PromoteError | undefined;
  for (const cluster of targets) {
    try {
      const values = resolveParameters(env, schema, cluster).values;
      if (cluster !== undefined) clusters.push({ name: cluster, parameters: values });
    } catch (err) {
      if (!(err instanceof PromoteError) || err.code !== 'PARAMETERS_INVALID') throw err;
      first ??= err;
      if (cluster === undefined) {
        problems.push(...err.problems);
      } else {
        failed.push(cluster);
        problems.push(...err.problems.map((p) => ({ ...p, message: `cluster ${cluster}: ${p.message}` })));
      }
    }
  }
  if (first) {
    const scope = failed.length ? `cluster${failed.length === 1 ? '' : 's'} ${failed.join(', ')} of environment ${env.name}` : `environment ${env.name}`;
    const summary = `parameters of ${scope} (${env.file}) do not satisfy ${schema.source}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`;
    return { descriptor, parameters: { passed: false, outcome: 'verification', code: first.code, summary, ...(first.hint && { hint: first.hint }), problems } };
  }
  // The record's environment-level values: the environment's own parameters when they are valid
  // by themselves; otherwise (a required value set only per cluster) the first cluster's, which
  // is what `plan` renders its preview with.
  let environment: Record<string, unknown>;
  try {
    environment = resolveParameters(env, schema).values;
  } catch (err) {
    if (!(err instanceof PromoteError) || err.code !== 'PARAMETERS_INVALID' || !clusters.length) throw err;
    environment = clusters[0]!.parameters;
  }
  return {
    descriptor,
    parameters: { passed: true, summary: `environment ${env.name} (${env.clusters.length || 1} cluster${env.clusters.length === 1 ? '' : 's'}) satisfies the parameter schema of ${config.name}`, evidence: { schemaDigest: schema.digest, environment: env.file } },
    values: { environment, clusters, secrets: schema.secrets },
  };
}

export async function checkSignature(project: Project, registry: Registry, digest: string): Promise<CheckResult> {
  const { verifyBundle, describePolicy } = await import('../signing/policy.ts');
  const trust = await project.trust();
  // A digest that is not there has no signature either; saying so would send the user to sign it.
  if (!(await registry.resolve(digest))) {
    return { passed: false, outcome: 'usage', code: 'BUNDLE_NOT_FOUND', summary: `bundle ${digest} is not in ${registry.name}`, hint: 'check the digest (promote push prints it; promote history <stage> lists the ones promoted), or push or copy the bundle there first' };
  }
  try {
    const v = await verifyBundle(registry, digest, trust.bundles);
    const by = v.signatures.map((s) => (s.kind === 'cosign' ? `key ${s.key}` : s.signedBy.kind === 'key' ? `key ${s.signedBy.key}` : `${s.signedBy.subject}`));
    return { passed: true, summary: `signed by ${by.join(', ')}`, evidence: { signatures: by, policy: describePolicy(trust.bundles) } };
  } catch (err) {
    if (err instanceof PromoteError && (err.outcome === 'verification' || err.code === 'TRUST_EMPTY')) {
      return { passed: false, outcome: err.outcome === 'usage' ? 'usage' : 'verification', code: err.code, summary: `${registry.name}@${digest}: ${err.message}`, ...(err.hint && { hint: err.hint }) };
    }
    throw err;
  }
}
