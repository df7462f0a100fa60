import type { DesiredState, ObjectResult, PruneResult } from '../../target.ts';
import { managers } from './compare.ts';
import { MappingError, objectPath, type ResourceMapping } from './discovery.ts';
import { entryKey, type ClusterInventory, type InventoryEntry } from './inventory.ts';
import { failureFor, type KubeSet, type ObjectApplier } from './object-applier.ts';
import { FIELD_MANAGER, LABEL_PIPELINE, LABEL_STAGE, labelValue, objectId, type KubeObject } from './objects.ts';

// Pruning: what the bundle no longer has goes, unless someone else has a stake in it.

/**
 * Deletes what the inventory owns and `plan` no longer wants — only objects promote alone
 * applied — then records the new inventory (this record, the objects applied).
 */
export async function pruneObjects(applier: ObjectApplier, inventory: ClusterInventory, desired: DesiredState, plan: KubeSet): Promise<PruneResult> {
  const old = await inventory.current();
  const pruned: string[] = [];
  const kept: ObjectResult[] = [];
  const retained = new Map<string, InventoryEntry>();
  let writes = 0;
  const stage = labelValue(desired.owner.stage);
  const pipeline = labelValue(desired.owner.pipeline);
  for (const e of old.objects) {
    const key = entryKey(e);
    if (plan.desiredKeys.has(key)) {
      retained.set(key, e);
      continue;
    }
    const id = objectId(e.apiVersion, e.kind, e.namespace, e.name);
    let mapping: ResourceMapping;
    try {
      mapping = await applier.mapper.map(e.apiVersion, e.kind);
    } catch (err) {
      if (err instanceof MappingError && err.reason === 'KindNotServed') {
        pruned.push(id); // its kind is gone, so is the object
        continue;
      }
      kept.push({ id, action: 'skipped', reason: 'DiscoveryFailed', message: `cannot prune ${id} now: ${(err as Error).message}` });
      retained.set(key, e);
      continue;
    }
    const path = objectPath(mapping, e.namespace, e.name);
    const res = await applier.client.send('GET', path);
    if (res.status === 404) {
      pruned.push(id);
      continue;
    }
    if (res.status !== 200) {
      const f = failureFor(id, e.kind, 'get', res);
      kept.push({ id, action: 'failed', reason: f.reason, message: `cannot prune: ${f.message}` });
      retained.set(key, e);
      continue;
    }
    const live = res.body as KubeObject;
    const labels = live.metadata.labels ?? {};
    // Another manager that *applies* this object has a stake in it (shared or taken fields):
    // deleting it would destroy their intent. Controllers' updates do not count.
    const coOwners = managers(live).filter((m) => m.manager !== FIELD_MANAGER && m.operation === 'Apply' && !m.subresource);
    if (labels[LABEL_STAGE] !== stage || labels[LABEL_PIPELINE] !== pipeline || !applier.appliedByUs(live, desired.owner) || coOwners.length > 0) {
      const others = [...new Set(managers(live).map((m) => m.manager))].join(', ') || 'nobody';
      kept.push({ id, action: 'skipped', reason: 'NotOwned', message: `${id} is not promote's alone to delete (managers: ${others}); left in place` });
      continue;
    }
    const del = await applier.client.send('DELETE', path, { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background', preconditions: { uid: live.metadata.uid } });
    writes++;
    if (del.status === 200 || del.status === 202 || del.status === 404) pruned.push(id);
    else {
      const f = failureFor(id, e.kind, 'delete', del);
      kept.push({ id, action: 'failed', reason: f.reason, message: f.message });
      retained.set(key, e);
    }
  }
  for (const p of plan.ok) retained.set(entryKey(p.entry), p.entry);
  if (await inventory.write({ recordDigest: desired.recordDigest, bundleDigest: desired.bundleDigest, objects: [...retained.values()] })) writes++;
  return { pruned, kept, writes };
}
