import { PromoteError } from '../errors.ts';
import { BUNDLE_CONFIG } from '../oci/media-types.ts';
import type { ImageManifest } from '../oci/registry.ts';
import { stageOrder } from '../pipeline/load.ts';
import { stageRepository, type Stage } from '../pipeline/pipeline.ts';
import type { Blocker, Plan } from '../pipeline/plan.ts';
import { planFor, type DetailedPlan } from './plan.ts';
import { lookupStage, type Project } from './project.ts';
import { loadPromoterSigner, promoterKeyGiven, signerFingerprint } from './signing-keys.ts';
import type { RunItem } from './notifications.ts';
import { applyPlan } from './to.ts';

// `promote run`: every `promotion: auto` stage, upstream first, promoted when its gates let it;
// a stage that waits, is held or has nothing new is reported and left alone. Never forces.
// A stage rolling out in waves has its next wave released when the wave's gates pass — on a
// `manual` stage too: a human started the rollout with `promote to`, and the waves after are
// what the pipeline's rollout says must follow. A newer bundle waits until the rollout is
// complete, or stopped: a stopped rollout on an auto stage is replaced by a new rollout of the
// newer bundle (docs/rollouts.md).

export interface RunStageOutcome {
  stage: string;
  /**
   * `configured`: a configuration change (same bundle, new parameters) was promoted.
   * `released`: the next wave of the stage's rollout was released. `stopped`: the stage's
   * rollout is stopped (released clusters unhealthy) and there is no newer bundle to promote.
   */
  result: 'promoted' | 'configured' | 'released' | 'up-to-date' | 'waiting' | 'stopped' | 'held' | 'nothing' | 'refused' | 'error';
  bundle?: string;
  message?: string;
  record?: string;
  /** For a stage rolling out in waves: the wave released (or waiting to be), of how many. */
  wave?: { wave: number; of: number; clusters: string[] };
}

/** The newest signed-able bundle in the repository: tags that are not promote's own, newest `created`. */
async function newestBundle(project: Project, stage: Stage): Promise<string | undefined> {
  const registry = await project.registryFor(stageRepository(project.pipeline, stage));
  const reserved = /^(sha256-|promotion-|status-)/;
  const tags = (await registry.listTags()).filter((t) => !reserved.test(t));
  let best: { digest: string; created: string } | undefined;
  for (const tag of tags) {
    // A tag deleted since the listing is skipped; a registry failing to answer is not "no bundle":
    // skipping it would promote an older one.
    const { isNotFound } = await import('../oci/not-found.ts');
    const fetched = await registry.fetchManifest(tag).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    if (!fetched) continue;
    const m = JSON.parse(fetched.bytes.toString('utf8')) as ImageManifest;
    if (m.config?.mediaType !== BUNDLE_CONFIG) continue;
    const created = m.annotations?.['org.opencontainers.image.created'] ?? '';
    if (!best || created > best.created) best = { digest: fetched.descriptor.digest, created };
  }
  return best?.digest;
}

/** Whether a blocker is the candidate's signature failing, or the parameters of a bundle the stage does not run yet. */
function failedCandidateCheck(plan: Plan, blocker: Blocker): boolean {
  if (plan.signature && !plan.signature.passed && blocker.message === plan.signature.summary) return true;
  return plan.candidate !== plan.current && !!plan.parameters && !plan.parameters.passed && blocker.message === plan.parameters.summary;
}

/** One pass of `promote run`: every `promotion: auto` stage, upstream first. Never forces. */
export async function runOnce(project: Project): Promise<RunStageOutcome[]> {
  // A configured key that trust.promotions lacks would be refused at every stage: say so once, exit 4.
  const signer = promoterKeyGiven(project) ? await loadPromoterSigner(project) : undefined;
  const promoterKey = signer && (await signerFingerprint(signer));
  const out: RunStageOutcome[] = [];
  // What each outcome was decided on, for the pass's notifications (after every stage's effect).
  const seen: RunItem[] = [];
  let decided: DetailedPlan | undefined;
  for (const stage of stageOrder(project.pipeline)) {
    if (stage.promotion !== 'auto' && !stage.rollout) continue;
    const target = lookupStage(project.pipeline, stage.name);
    decided = undefined;
    const before = out.length;
    try {
      // A stage with waves: first, is a rollout under way? Its next wave comes before any new bundle.
      let plan: DetailedPlan | undefined;
      if (stage.rollout) {
        const first = await planFor(project, target, { action: 'auto', ...(promoterKey && { promoterKey }) });
        if (first.change === 'wave') {
          plan = first;
          if (first.rollout?.state === 'stopped' && stage.promotion === 'auto') {
            const newer = stage.from ? first.rollout.newer : await newestBundle(project, stage);
            if (newer && newer !== first.current) plan = await planFor(project, target, { action: 'auto', bundle: newer, ...(promoterKey && { promoterKey }) });
          }
        } else if (stage.from && stage.promotion === 'auto') plan = first;
      }
      if (!plan && stage.promotion !== 'auto') continue;
      let bundle: string | undefined;
      if (!plan && !stage.from) {
        bundle = await newestBundle(project, stage);
        if (!bundle) {
          out.push({ stage: stage.name, result: 'nothing', message: 'no bundle in the repository yet' });
          continue;
        }
      }
      // One plan per stage and pass decides, and is what gets committed.
      plan ??= await planFor(project, target, { action: 'auto', ...(bundle && { bundle }), ...(promoterKey && { promoterKey }) });
      decided = plan;
      if (plan.blockers.some((b) => b.code === 'STAGE_HELD')) {
        out.push({ stage: stage.name, result: 'held', message: plan.blockers.find((b) => b.code === 'STAGE_HELD')!.message });
        continue;
      }
      if (!plan.candidate) {
        out.push({ stage: stage.name, result: 'nothing', message: plan.blockers[0]?.message ?? 'nothing to promote' });
        continue;
      }
      if (plan.upToDate) {
        out.push({ stage: stage.name, result: 'up-to-date', bundle: plan.candidate });
        continue;
      }
      // Gates, holds and the ledger may pass on a later pass: the stage waits. A candidate that
      // fails its own checks (signature, parameters of a new bundle) is refused as promote to
      // refuses it, after the key (no key, no further).
      const wave = plan.rollout && { wave: plan.rollout.wave, of: plan.rollout.of, clusters: plan.rollout.clusters };
      const waiting = plan.blockers.filter((b) => !failedCandidateCheck(plan, b));
      if (waiting.length) {
        const stopped = waiting.some((b) => b.code === 'ROLLOUT_STOPPED');
        out.push({ stage: stage.name, result: stopped ? 'stopped' : 'waiting', bundle: plan.candidate, message: waiting.map((b) => b.message).join('; '), ...(wave && { wave }), ...(stopped && plan.head && { record: plan.head.digest }) });
        continue;
      }
      const r = await applyPlan(project, target, plan, signer ?? (await loadPromoterSigner(project)));
      out.push({ stage: stage.name, result: r.action === 'wave' ? 'released' : r.action === 'configure' ? 'configured' : 'promoted', bundle: r.bundle, ...(r.record && { record: r.record }), ...(r.rollout && { wave: r.rollout }) });
    } catch (err) {
      if (err instanceof PromoteError && (err.outcome === 'refused' || err.outcome === 'verification')) {
        out.push({ stage: stage.name, result: 'refused', message: err.message });
      } else {
        out.push({ stage: stage.name, result: 'error', message: err instanceof Error ? err.message : String(err) });
      }
    } finally {
      for (const outcome of out.slice(before)) seen.push({ outcome, ...(decided && { plan: decided, promoter: decided.promoter }) });
    }
  }
  if (project.pipeline.notify?.length) await (await import('./notifications.ts')).notifyRun(project, seen);
  return out;
}

/** `promote run --listen`: where to receive webhooks, the secret they prove, where its lines go. */
export type RunListen = import('./listen.ts').ListenOptions & { log: (line: string) => void };

/** Resolves after `ms`, or at once when `signal` aborts or the function handed to `onCut` is called. */
function pause(ms: number, signal: AbortSignal, onCut?: (cut: () => void) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    onCut?.(done);
  });
}

/**
 * `promote run`: passes every `intervalMs` until `signal` aborts; with `listen`, also soon after
 * a webhook concerns the project. Events coalesce: one ends the wait, the pass starts after a
 * short settle (events meanwhile are covered by it), and any number arriving during a pass queue
 * exactly one more.
 */
export async function runLoop(project: Project, intervalMs: number, signal: AbortSignal, onPass: (outcomes: RunStageOutcome[]) => void, listen?: RunListen): Promise<void> {
  let woken = false;
  let endWait: (() => void) | undefined;
  let listener: import('./listen.ts').Listener | undefined;
  let settleMs = 0;
  let passStarted = 0;
  let reportWake: NodeJS.Timeout | undefined;
  if (listen) {
    const { DEFAULT_REPORT_WAKE_MS, DEFAULT_SETTLE_MS, projectInterest, startListener } = await import('./listen.ts');
    settleMs = listen.settleMs ?? DEFAULT_SETTLE_MS;
    const reportGap = listen.reportWakeMs ?? DEFAULT_REPORT_WAKE_MS;
    const wakeNow = () => {
      woken = true;
      endWait?.();
    };
    listener = await startListener(listen, await projectInterest(project), (_why, kind) => {
      // Status reports come in bursts of a fleet's size: one pass per reportGap (listen.ts).
      const wait = kind.reports ? passStarted + reportGap - Date.now() : 0;
      if (wait <= 0) {
        clearTimeout(reportWake);
        reportWake = undefined;
        return wakeNow();
      }
      reportWake ??= setTimeout(() => {
        reportWake = undefined;
        wakeNow();
      }, wait);
    }, listen.log);
    listen.log(`listen: receiving webhooks on ${listener.url}`);
  }
  try {
    while (!signal.aborted) {
      if (woken && settleMs > 0) await pause(settleMs, signal);
      woken = false;
      passStarted = Date.now();
      onPass(await runOnce(project));
      if (signal.aborted || woken) continue;
      await pause(intervalMs, signal, (cut) => { endWait = cut; });
      endWait = undefined;
    }
  } finally {
    clearTimeout(reportWake);
    await listener?.close();
  }
}
