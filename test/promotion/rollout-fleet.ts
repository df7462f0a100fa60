// The set-up both three-wave end-to-end tests share (rollout-e2e, rollout-degraded-e2e): a
// project whose production stage has three clusters and a rollout, the engine through the
// library, one in-process agent per production cluster built as `promote agent` builds it
// (agentParts) on its own dir target, bundles pushed and signed by CI, and dev and staging
// reported Converged for an hour by hand (signed with the agent key) to get a bundle there.
import { cp, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { agentParts } from '../../src/agent/agent-parts.ts';
import { Reconciler } from '../../src/agent/reconcile.ts';
import { DirTarget, type DirTargetOptions } from '../../src/agent/targets/dir-target.ts';
import { pushBundle } from '../../src/artifact/push.ts';
import type { Policy } from '../../src/policy/policy-file.ts';
import { openProject, type Project } from '../../src/promotion/project.ts';
import { runOnce } from '../../src/promotion/run.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { publishStatusReport } from '../../src/records/status-report.ts';
import { signBundle } from '../../src/signing/cosign-signature.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import { createProject, FIXTURE, type TestProject } from './project.ts';

export const PROD = ['prod-eu-1', 'prod-eu-2', 'prod-us-1'];

/** The production stage's rollout: the canary, then prod-eu-2 after `soak`, then the rest after `soak`. */
export function threeWaves(soak: string): string {
  return `[]
      rollout:
        waves:
          - {clusters: [prod-eu-1]}
          - {clusters: [prod-eu-2], after: {soak: ${soak}}}
          - {clusters: "*", after: {soak: ${soak}}}`;
}

export interface FleetOptions {
  name: string;
  soak: string;
  policy?: Policy;
  target?: DirTargetOptions;
  healthTimeoutMs: number;
  healthPollMs?: number;
}

export async function productionFleet(base: string, registryHost: string, o: FleetOptions) {
  const p = await createProject(join(base, 'p'), registryHost, { name: o.name, agents: true, productionGates: threeWaves(o.soak) });
  await writeFile(join(p.dir, 'environments', 'production.yaml'), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: production}\nspec:\n  parameters: {namespace: production, replicas: 3}\n  clusters:\n${PROD.map((c) => `    - name: ${c}\n`).join('')}`);
  const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(base, 'engine-cache') });
  const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
  const targets = Object.fromEntries(PROD.map((c) => [c, join(base, 'clusters', c)]));
  const agents = PROD.map((cluster) => {
    const owner = { pipeline: 'webapp', stage: 'production', cluster };
    const { source, reporter } = agentParts({ registry: p.registry, repository: p.repository, owner, promotionTrust: trust.promotions, bundleTrust: trust.bundles, signer: p.agent, cacheDir: join(base, 'agent-bundles'), stateDir: join(base, 'agent-state'), ...(o.policy && { policy: o.policy }) });
    const target = new DirTarget(targets[cluster]!, o.target);
    return { cluster, reconciler: new Reconciler({ owner, source, target, ...(reporter && { reporter }), healthTimeoutMs: o.healthTimeoutMs, ...(o.healthPollMs !== undefined && { healthPollMs: o.healthPollMs }) }) };
  });
  await mkdir(join(base, 'clusters'), { recursive: true });
  return {
    p,
    eng,
    targets,
    /** One round of every production agent, as their loops would run it. */
    round: async () => Object.fromEntries(await Promise.all(agents.map(async (a) => [a.cluster, (await a.reconciler.round()).status] as const))),
    variant: (cluster: string) => readFile(join(targets[cluster]!, 'files', 'variant.txt'), 'utf8'),
    production: async () => (await runOnce(eng)).find((o) => o.stage === 'production'),
  };
}

/** Bundle variant `n` (files/variant.txt says `variant n`), edited by `edit`, signed by CI. */
export async function pushVariant(base: string, p: TestProject, n: number, edit?: (src: string) => Promise<void>): Promise<string> {
  const src = join(base, `bundle-${n}`);
  await cp(FIXTURE, src, { recursive: true });
  await writeFile(join(src, 'files', 'variant.txt'), `variant ${n}\n`);
  await edit?.(src);
  const pushed = await pushBundle(src, `${p.repository}:v${n}`, { insecure: true, env: { ...p.env, SOURCE_DATE_EPOCH: String(1_700_000_000 + n) } });
  const digest = pushed.reference.slice(pushed.reference.indexOf('@') + 1);
  await signBundle(p.registry, digest, p.ci, p.repository);
  return digest;
}

/** What a dev or staging agent would have published: Converged on `digest` for an hour. */
async function converged(p: TestProject, stage: string, cluster: string, digest: string) {
  const desc = (await p.registry.resolve(digest))!;
  const now = Date.now();
  await publishStatusReport(p.registry, { mediaType: desc.mediaType, digest, size: desc.size }, { pipeline: 'webapp', stage, cluster, phase: 'Converged', bundle: { repository: p.repository, digest }, since: new Date(now - 3_600_000).toISOString(), observedAt: new Date(now).toISOString() }, p.agent);
}

/** `digest` through dev and staging, each reported Converged, so production may take it. */
export async function upstream(eng: Project, p: TestProject, digest: string) {
  await promoteTo(eng, { stage: 'dev', bundle: digest });
  await converged(p, 'dev', 'dev-1', digest);
  await promoteTo(eng, { stage: 'staging' });
  for (const c of ['staging-eu-1', 'staging-us-1']) await converged(p, 'staging', c, digest);
}

/** Every file under `root` with its bytes (the agent's inventory included). */
export async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out[join(e.parentPath, e.name).slice(root.length + 1)] = (await readFile(join(e.parentPath, e.name))).toString('base64');
  }
  return out;
}
