import { readFileSync } from 'node:fs';
import type {
  ApplyOptions,
  ApplyResult,
  DesiredState,
  DriftedObject,
  HealthOptions,
  HealthResult,
  Observation,
  ObjectResult,
  PruneResult,
  Target,
} from '../../target.ts';
import { checkSet } from '../../target.ts';
import { KubeClient, type KubeConnection } from './client.ts';
import { RestMapper } from './discovery.ts';
import { ClusterInventory, entryKey } from './inventory.ts';
import { ObjectApplier, type KubeSet, type Planned } from './object-applier.ts';
import { collectObjects, isCrd, objectId, type KubeObject } from './objects.ts';
import { pruneObjects } from './prune.ts';
import { waitEstablished, waitHealthy } from './wait.ts';

// Converges a cluster with server-side apply (field manager `promote`). SSA keeps no
// last-applied annotation, so 1 MB CRDs apply; it merges with other managers' fields and
// answers 409 when we would take a field someone else owns — reported, never forced unless
// configured (or when restoring an object we own that was edited by hand: self-heal).
// Objects go in two phases, CRDs and Namespaces first (object-applier.ts applies each one);
// what apply and observe decide is the KubeSet that prune (prune.ts) and health (wait.ts) take.

export type { KubeSet } from './object-applier.ts';

export interface KubernetesTargetOptions extends KubeConnection {
  /** Namespace of the inventory ConfigMap (default: the agent's own namespace, else `default`). */
  inventoryNamespace?: string;
  /** Namespace for namespaced objects that do not name one (default `default`). */
  defaultNamespace?: string;
  /** Force conflicts on every apply (take fields from other managers). */
  force?: boolean;
  /** How long to wait for applied CRDs to become Established (default 60 s). */
  establishTimeoutMs?: number;
}

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function inClusterNamespace(): string | undefined {
  try {
    return readFileSync(SA_NAMESPACE_FILE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

export class KubernetesTarget implements Target<KubeSet> {
  readonly name: string;
  readonly client: KubeClient;
  private readonly options: KubernetesTargetOptions;
  private readonly applier: ObjectApplier;

  private constructor(client: KubeClient, options: KubernetesTargetOptions) {
    this.client = client;
    this.options = options;
    this.applier = new ObjectApplier(client, new RestMapper(client), options.defaultNamespace ?? 'default');
    this.name = `kubernetes:${client.server}`;
  }

  static async create(options: KubernetesTargetOptions = {}): Promise<KubernetesTarget> {
    return new KubernetesTarget(await KubeClient.connect(options), options);
  }

  private inventory(desired: DesiredState): ClusterInventory {
    return new ClusterInventory(this.client, desired.owner, this.options.inventoryNamespace ?? inClusterNamespace() ?? 'default');
  }

  async apply(desired: DesiredState, options: ApplyOptions = {}): Promise<ApplyResult<KubeSet>> {
    const seen = new Map<string, KubeObject>();
    this.applier.mapper.invalidate();
    const { objects, invalid } = collectObjects(desired);
    const results: ObjectResult[] = invalid.map((i) => ({ id: i.source, action: 'failed', reason: 'InvalidObject', message: i.message }));
    const restore = new Set(options.restore ?? []);
    const inventory = this.inventory(desired);
    const old = await inventory.read();
    const owned = new Set(old.objects.map(entryKey));
    const desiredKeys = new Set<string>();
    const ok: Planned[] = [];
    let writes = 0;

    const phases = [objects.filter((o) => isCrd(o.object) || o.object.kind === 'Namespace'), objects.filter((o) => !(isCrd(o.object) || o.object.kind === 'Namespace'))];
    for (const [index, phase] of phases.entries()) {
      const planned: Planned[] = [];
      for (const d of phase) {
        const p = await this.applier.plan(d, desired.owner);
        if ('reason' in p) {
          results.push({ id: p.id, action: 'failed', reason: p.reason, message: p.message });
          desiredKeys.add(entryKey({ apiVersion: d.object.apiVersion, kind: d.object.kind, ...(d.object.metadata.namespace ? { namespace: d.object.metadata.namespace } : {}), name: d.object.metadata.name as string }));
          continue;
        }
        desiredKeys.add(entryKey(p.entry));
        planned.push(p);
      }
      // Record ownership before creating anything, so a crash mid-apply still knows what to prune.
      const union = new Map(old.objects.map((e) => [entryKey(e), e]));
      for (const p of [...ok, ...planned]) union.set(entryKey(p.entry), p.entry);
      if (await inventory.write({ ...(old.recordDigest ? { recordDigest: old.recordDigest } : {}), ...(old.bundleDigest ? { bundleDigest: old.bundleDigest } : {}), objects: [...union.values()] })) writes++;
      for (const p of planned) {
        const force = this.options.force === true || options.force === true || (restore.has(p.id) && owned.has(entryKey(p.entry)));
        const r = await this.applier.applyOne(p, force, seen);
        if (r.written) writes++;
        const { written: _w, ...result } = r;
        results.push(result);
        if (result.action !== 'failed') ok.push(p);
      }
      if (index === 0) {
        const crds = planned.filter((p) => isCrd(p.body) && seen.has(p.id));
        const notEstablished = await waitEstablished(this.applier, crds, seen, this.options.establishTimeoutMs ?? 60_000);
        for (const [id, message] of notEstablished) {
          const r = results.find((x) => x.id === id);
          if (r) Object.assign(r, { health: 'Degraded', message, reason: 'NotEstablished' });
        }
        // The CRDs' groups now exist: forget what discovery said about them before.
        this.applier.mapper.invalidate();
      }
    }
    return { objects: results, writes, set: { recordDigest: desired.recordDigest, by: 'apply', desiredKeys, ok, live: seen } };
  }

  async prune(desired: DesiredState, plan: KubeSet): Promise<PruneResult> {
    checkSet(plan, desired, 'prune');
    return await pruneObjects(this.applier, this.inventory(desired), desired, plan);
  }

  async observe(desired: DesiredState): Promise<Observation<KubeSet>> {
    const seen = new Map<string, KubeObject>();
    // Steady rounds reuse what discovery found (resource names do not change under a running
    // agent); an apply rediscovers everything.
    this.applier.mapper.forgetFailures();
    const inventory = this.inventory(desired);
    const inv = await inventory.read();
    const owned = new Set(inv.objects.map(entryKey));
    const drift: DriftedObject[] = [];
    const { objects } = collectObjects(desired);
    const ok: Planned[] = [];
    const desiredKeys = new Set<string>();
    for (const d of objects) {
      const p = await this.applier.plan(d, desired.owner);
      if ('reason' in p) continue;
      desiredKeys.add(entryKey(p.entry));
      if (!owned.has(entryKey(p.entry))) continue;
      ok.push(p);
      const { live, failure } = await this.applier.read(p);
      if (failure) continue;
      if (!live) {
        drift.push({ id: p.id, kind: 'missing', message: `${p.id} was deleted` });
        continue;
      }
      seen.set(p.id, live);
      const check = await this.applier.upToDate(p, live, false);
      if (check.ok) continue;
      drift.push({ id: p.id, kind: 'modified', message: check.conflict ? `${p.id} was changed by another manager: ${check.conflict.message}` : `${p.id} differs from the bundle` });
    }
    const set: KubeSet = { recordDigest: desired.recordDigest, by: 'observe', desiredKeys, ok, live: seen };
    return { owned: inv.objects.map((e) => objectId(e.apiVersion, e.kind, e.namespace, e.name)), ...(inv.recordDigest ? { appliedRecordDigest: inv.recordDigest } : {}), drift, set };
  }

  async health(desired: DesiredState, set: KubeSet, options: HealthOptions): Promise<HealthResult> {
    checkSet(set, desired, 'health');
    return await waitHealthy(this.applier, set, options);
  }

  async close(): Promise<void> {
    this.client.close();
  }
}
