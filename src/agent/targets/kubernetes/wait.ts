import type { HealthOptions, HealthResult, ObjectResult } from '../../target.ts';
import type { KubeSet, LiveView, ObjectApplier, Planned } from './object-applier.ts';

// Waiting, after an apply: for CRDs to be Established before the objects of their kinds are
// applied, and for every object to be healthy (fluxcd/pkg ssa's WaitForSet).

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });

/** CRDs applied this round until they are Established (their kinds can be applied then), or why not. */
export async function waitEstablished(applier: ObjectApplier, crds: Planned[], seen: Map<string, LiveView>, timeoutMs: number, signal?: AbortSignal): Promise<Map<string, string>> {
  const pending = new Map<string, string>();
  const deadline = Date.now() + timeoutMs;
  let left = crds;
  for (;;) {
    const next: Planned[] = [];
    for (const p of left) {
      if (seen.get(p.id)?.health.health === 'Healthy') continue;
      next.push(p);
    }
    left = next;
    if (left.length === 0 || Date.now() >= deadline || signal?.aborted) break;
    await sleep(250, signal);
    for (const p of left) {
      const { view } = await applier.read(p);
      if (view) seen.set(p.id, view);
    }
  }
  for (const p of left) pending.set(p.id, `${p.id} is not established after ${timeoutMs / 1000}s`);
  return pending;
}

/**
 * The health of `set`'s objects by kind, polling those still Progressing until the timeout; the
 * first look uses what apply or observe last read.
 */
export async function waitHealthy(applier: ObjectApplier, set: KubeSet, options: HealthOptions): Promise<HealthResult> {
  const watch = set.ok;
  const verdicts = new Map<string, ObjectResult>();
  const deadline = Date.now() + options.timeoutMs;
  let pending = watch;
  let first = true;
  for (;;) {
    const next: Planned[] = [];
    for (const p of pending) {
      let v = first ? set.live.get(p.id)?.health : undefined;
      if (!v) {
        const { view, failure } = await applier.read(p);
        if (failure) {
          verdicts.set(p.id, { id: p.id, action: 'unchanged', health: 'Unknown', reason: failure.reason, message: failure.message });
          continue;
        }
        if (!view) {
          verdicts.set(p.id, { id: p.id, action: 'unchanged', health: 'Degraded', reason: 'Missing', message: `${p.id} does not exist` });
          continue;
        }
        v = view.health;
      }
      verdicts.set(p.id, { id: p.id, action: 'unchanged', health: v.health, ...(v.message ? { message: v.message } : {}) });
      if (v.health === 'Progressing') next.push(p);
    }
    first = false;
    pending = next;
    if (pending.length === 0 || Date.now() >= deadline || options.signal?.aborted) break;
    await sleep(Math.min(options.pollMs ?? 1000, Math.max(0, deadline - Date.now())), options.signal);
  }
  for (const p of pending) {
    const v = verdicts.get(p.id)!;
    verdicts.set(p.id, { ...v, health: 'Degraded', reason: 'HealthTimeout', message: `not healthy after ${Math.round((options.totalMs ?? options.timeoutMs) / 1000)}s: ${v.message ?? 'progressing'}` });
  }
  const objects = watch.map((p) => verdicts.get(p.id)!).filter(Boolean);
  return { healthy: objects.every((o) => o.health === 'Healthy'), objects };
}
