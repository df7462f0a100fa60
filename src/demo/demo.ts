import { execFile } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { AgentParts } from '../agent/agent-parts.ts';
import type { Reconciler } from '../agent/reconcile.ts';
import type { Target } from '../agent/target.ts';
import { isPromoteError, PromoteError } from '../errors.ts';
import type { RegistryOptions } from '../oci/open.ts';
import type { GateSpec } from '../pipeline/gates/kinds.ts';
import type { Stage } from '../pipeline/pipeline.ts';
import type { Project } from '../promotion/project.ts';
import type { PromoteResult } from '../promotion/to.ts';
import { clusterAgent, clusterAgentParts } from './cluster-agents.ts';
import { DEMO_PASSWORD, demoKeys } from './demo-keys.ts';
import { exists, inside, openDemoProject } from './demo-project.ts';
import type { DemoRelease, DemoResult, DemoStep, StatusRow } from './demo-result.ts';
import { statusRows } from './demo-status.ts';
import { dirHandEdit, kubeContexts, kubeHandEdit } from './hand-edit.ts';
import { prepareSecondVersion, type SecondVersion } from './second-version.ts';
import { shortDigest } from '../short-digest.ts';

// `promote demo`: the whole product in one process, on the embedded defaults — keys, two signed
// releases, automatic promotion to the first stage, agents converging directory "clusters", gates
// refusing and then passing, an approval by a second person, drift detected and corrected, a
// rollback — on any chain of two or more stages (demo-stages.ts), the example's three or the two
// of a project `promote import` wrote.
// Every step calls the same library functions the commands call; nothing is simulated: the gates
// read real signed status reports and the real clock, which is why the demo's pipeline soaks for
// seconds rather than hours (see pipelines/webapp.yaml).
//
// Size: runDemo is the story, told in order; its ten steps share the engines, agents and releases
// made along the way, so they stay in one function. What each step uses lives in its own file
// (demo-project, demo-stages, demo-keys, cluster-agents, second-version, hand-edit, demo-status).

const run = promisify(execFile);

/** Commit times of the two demo releases: fixed, so the digests are the same on every run. */
const RELEASE_EPOCH = 1_767_225_600; // 2026-01-01T00:00:00Z

export const PROMOTER = { name: 'Pat Promoter', email: 'pat@example.com' };
export const APPROVER = { name: 'Alex Approver', email: 'alex@example.com' };

export interface DemoOptions {
  /** The project root (holding pipelines/ and environments/). */
  project: string;
  env: NodeJS.ProcessEnv;
  /** Paths in the story are shown relative to this directory (the user's). */
  cwd: string;
  /** Pipeline name or file (default: the project's only pipeline). */
  pipeline?: string;
  /** Use this registry repository instead of the pipeline's (e.g. localhost:5000/acme/webapp). */
  registry?: string;
  registryOptions?: RegistryOptions;
  /** Agents converge Kubernetes clusters through this kubeconfig instead of directories. */
  kubeconfig?: string;
  /** One line per step, as it happens. */
  narrate?: (line: string) => void;
  now?: () => number;
}


function gitEnv(env: NodeJS.ProcessEnv, who: { name: string; email: string }): NodeJS.ProcessEnv {
  return { ...env, GIT_AUTHOR_NAME: who.name, GIT_AUTHOR_EMAIL: who.email, GIT_COMMITTER_NAME: who.name, GIT_COMMITTER_EMAIL: who.email };
}

/** The engine's error in one line, without its hint (the story says what happens next). */
function refusalLine(err: unknown): string {
  if (!isPromoteError(err)) throw err;
  if (err.outcome !== 'refused') throw err;
  const plan = err.details?.plan as { gates?: { gate: string; passed: boolean; overridden?: boolean; summary: string }[] } | undefined;
  const failing = (plan?.gates ?? []).filter((g) => !g.passed && !g.overridden);
  if (!failing.length) return err.message;
  return `${failing.length} of ${plan!.gates!.length} gates did not pass — ${failing.map((g) => `${g.gate}: ${g.summary}`).join('; ')}`;
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const clock = options.now ?? (() => performance.now());
  const started = clock();
  const steps: DemoStep[] = [];
  const narrate = options.narrate ?? (() => undefined);
  const root = resolve(options.project);
  const show = (p: string): string => {
    const rel = relative(options.cwd, p);
    return rel === '' ? '.' : rel.startsWith('..') ? p : rel;
  };
  let stepStarted = clock();
  const step = (name: string, detail: string, result: DemoStep['result'] = 'ok'): void => {
    const now = clock();
    const at = `${((now - started) / 1000).toFixed(1)}s`;
    steps.push({ at, step: name, result, detail, ms: Math.round(now - stepStarted) });
    stepStarted = now;
    narrate(`${at.padStart(6)}  ${name.padEnd(10)} ${detail}`);
  };

  const [{ openProject }, { promoteTo }, { runOnce }, { approve }, { rollback }, { openRegistry }, { parseReference, formatReference, repositoryName }] = await Promise.all([
    import('../promotion/project.ts'),
    import('../promotion/to.ts'),
    import('../promotion/run.ts'),
    import('../promotion/approve.ts'),
    import('../promotion/rollback.ts'),
    import('../oci/open.ts'),
    import('../oci/reference.ts'),
  ]);
  const { pipelineFile, projectDir, pipeline, stages: chain, bundleDir, state, layoutPath, registryIsLocal } = await openDemoProject(root, options, show);
  // The first stage plays dev, the last production, any between are walked like staging; the
  // gates each declares decide which refusals the story shows.
  const first = chain[0]!.name;
  const last = chain.at(-1)!.name;
  const between = chain.slice(1, -1).map((s) => s.name);
  const stageOf = (name: string): Stage => chain.find((s) => s.name === name)!;
  const gatesOf = (name: string): GateSpec[] => stageOf(name).gates;
  const has = (name: string, type: GateSpec['type']): boolean => gatesOf(name).some((g) => g.type === type);
  narrate(`promote demo: build once, promote the same digest ${chain.map((s) => s.name).join(' → ')} (state in ${show(state)}/, reset first)`);

  // 1. Keys first (a wrong password must fail before anything is reset): the CI key signs
  //    bundles, the promoter's key signs records, the agents' key signs status reports.
  const keys = await demoKeys(projectDir, pipeline, options.env, options.cwd);
  const keyNames = [...new Set([keys.files.ci, keys.files.promoter, keys.files.agent, keys.files.approver])];
  step('keygen', `${keys.created.length ? 'created' : 'reusing'} ${keyNames.join(', ')} (CI, promoter, agents, approver) — ${keys.files.password === 'demo' ? `password "${DEMO_PASSWORD}", for the demo only (PROMOTE_PASSWORD sets your own)` : `password from ${keys.files.password}`}`);

  // 2. Start from nothing: the demo's own state under <project>/.promote, never anything else.
  const removed: string[] = [];
  for (const p of [layoutPath, pipeline.ledger.repository, join(state, 'clusters'), join(state, 'cache'), join(state, 'demo')]) {
    if (p && inside(state, p) && (await exists(p))) {
      await rm(p, { recursive: true, force: true });
      removed.push(show(p));
    }
  }
  await mkdir(pipeline.ledger.repository, { recursive: true });
  await run('git', ['init', '-q', '-b', pipeline.ledger.branch ?? 'main', pipeline.ledger.repository]);
  step('reset', removed.length ? `removed the last run's state: ${removed.join(', ')} (keys are kept)` : `fresh state under ${show(state)}`);

  // Two engines: the promoter, and a second person who approves with their own key (separation
  // of duties is between the two keys; the git identities only name them in the ledger's log).
  const registryOptions: RegistryOptions = { ...options.registryOptions, env: options.env, cwd: projectDir };
  const openAs = async (who: { name: string; email: string }): Promise<Project> => {
    // The gates' memory of report numbers (<cache root>/gates) is the demo's state too: the
    // reset starts the agents' reports from 1 again, which a mark left by the last run refuses.
    const env = { ...gitEnv(options.env, who), PROMOTE_CACHE_DIR: join(state, 'cache') };
    const p = await openProject({ cwd: projectDir, env, pipeline: pipelineFile, signer: keys.promoter, approverSigner: keys.approver, registry: registryOptions, log: () => undefined });
    if (!options.registry) return p;
    return { ...p, pipeline, registry: await openRegistry(pipeline.repository, registryOptions) };
  };
  const promoter = await openAs(PROMOTER);
  const approver = await openAs(APPROVER);
  const registry = promoter.registry;
  const trust = await promoter.trust();
  const repo = pipeline.repository;
  const repoShown = registryIsLocal ? `oci:${show(layoutPath!)}` : repo;

  // Agents: one per cluster, alive for the whole demo like a long-running `promote agent`.
  const { loadEnvironment } = await import('../params/environment.ts');
  const { clusterNames } = await import('../params/cluster-names.ts');
  const clusterDirs: Record<string, string> = {};
  const agents = new Map<string, { stage: string; cluster: string; target: Target; agent: Reconciler }>();
  const stageClusters: Record<string, string[]> = {};
  // With --kubeconfig, a cluster whose name is a context of the kubeconfig uses that context;
  // the others use its current context (then the clusters of one stage share a server).
  const contexts = options.kubeconfig ? await kubeContexts(options.kubeconfig) : [];
  // The agent's own target kinds (agent/targets/kinds.ts), opened as `--target` would open them.
  const { openTarget } = await import('../agent/targets/open-target.ts');
  const makeTarget = async (cluster: string): Promise<Target> => {
    if (options.kubeconfig) {
      return openTarget('kubernetes', { cwd: projectDir, options: { kubeconfig: resolve(options.kubeconfig), ...(contexts.includes(cluster) && { context: cluster }) } });
    }
    const dir = join(state, 'clusters', cluster);
    clusterDirs[cluster] = dir;
    return openTarget(`dir:${dir}`, { cwd: projectDir });
  };
  const parts = new Map<string, AgentParts>();
  for (const stage of pipeline.stages) {
    const env = await loadEnvironment(projectDir, stage.environment);
    const names = clusterNames(env);
    stageClusters[stage.name] = names;
    for (const cluster of names) {
      const target = await makeTarget(cluster);
      const own = await clusterAgentParts({ project: promoter, trust, signer: keys.agent, cacheDir: join(state, 'cache', 'bundles'), stateDir: join(state, 'cache', 'agent'), stage: stage.name, cluster });
      parts.set(`${stage.name}/${cluster}`, own);
      const agent = clusterAgent(own, target, { pipeline: pipeline.name, stage: stage.name, cluster });
      agents.set(`${stage.name}/${cluster}`, { stage: stage.name, cluster, target, agent });
    }
  }
  if (options.kubeconfig) {
    const all = Object.values(stageClusters).flat();
    const own = all.filter((c) => contexts.includes(c));
    step('clusters', `${show(options.kubeconfig)}: ${own.length ? `contexts ${own.join(', ')}` : ''}${own.length && own.length < all.length ? '; ' : ''}${own.length < all.length ? `${all.filter((c) => !own.includes(c)).join(', ')} on its current context` : ''}`);
  }
  const converge = async (stageName: string, expectBundle: string): Promise<string> => {
    const rounds = await Promise.all(stageClusters[stageName]!.map(async (cluster) => ({ cluster, r: await agents.get(`${stageName}/${cluster}`)!.agent.round() })));
    for (const { cluster, r } of rounds) {
      if (r.status.phase !== 'Converged' || r.status.bundle !== expectBundle) {
        throw new PromoteError('DEMO_AGENT_FAILED', `agent ${stageName}/${cluster}: ${r.status.phase} (${r.status.reason}): ${r.status.message}`, { hint: 'run promote demo --debug; the state is left in .promote/ to inspect' });
      }
    }
    const objects = rounds[0]!.r.status.objects.total;
    const writes = rounds.reduce((n, x) => n + x.r.writes, 0);
    const where = options.kubeconfig ? 'Kubernetes' : `${show(join(state, 'clusters'))}/`;
    return `${rounds.map((x) => x.cluster).join(', ')}: Converged on ${shortDigest(expectBundle, 'elided')} (${objects} objects${rounds.length > 1 ? ' each' : ''}, ${writes} writes in ${where}); signed status report${rounds.length > 1 ? 's' : ''} published`;
  };

  // Soak gates measure from the agents' `since`: wait exactly as long as the pipeline asks.
  const soakWait = async (stageName: string): Promise<number> => {
    const stage = pipeline.stages.find((s) => s.name === stageName)!;
    const soak = stage.gates.find((g) => g.type === 'soak');
    if (!soak || soak.type !== 'soak' || !stage.from) return 0;
    const sinces = stageClusters[stage.from]!.map((c) => Date.parse(agents.get(`${stage.from}/${c}`)!.agent.status?.since ?? ''));
    const wait = Math.max(...sinces) + soak.milliseconds - Date.now() + 5;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    return Math.max(0, wait);
  };
  const promoteSoaked = async (stageName: string, project = promoter): Promise<{ result: PromoteResult; waited: number }> => {
    const waited = await soakWait(stageName);
    return { result: await promoteTo(project, { stage: stageName }), waited };
  };
  const gateList = (r: PromoteResult): string => (r.gates.length ? r.gates.map((g) => `${g.gate} ✓`).join(', ') : 'no gates');

  // 3. Release 1.0: build once, push, sign.
  const { pushBundle } = await import('../artifact/push.ts');
  const { signBundle } = await import('../signing/cosign-signature.ts');
  const epoch = registryIsLocal ? RELEASE_EPOCH : Math.floor(Date.now() / 1000);
  const release = async (dir: string, version: string, offset: number): Promise<DemoRelease & { files: number }> => {
    const pushed = await pushBundle(dir, `${repo}:${version}`, { ...registryOptions, env: { ...options.env, SOURCE_DATE_EPOCH: String(epoch + offset) }, version });
    await signBundle(registry, pushed.digest, keys.ci, repositoryName(parseReference(repo)));
    return { version, digest: pushed.digest, reference: formatReference({ ...parseReference(repo), digest: pushed.digest }), files: pushed.files };
  };
  const v1 = await release(bundleDir, '1.0', 0);
  step('release', `${pipeline.name} 1.0 built from ${show(bundleDir)} (${v1.files} files) → ${v1.digest}`);
  step('push', `${repoShown}:1.0, signed with ${keys.files.ci} (cosign format: sha256-….sig)`);

  // 4. The first stage (dev in the example) takes every new signed bundle: with `promotion:
  //    auto`, one pass of the controller; otherwise the release is promoted into it by name.
  const firstStage = chain[0]!;
  const autoPass = async (digest: string): Promise<string> => {
    const outcomes = await runOnce(promoter);
    const mine = outcomes.find((o) => o.stage === first);
    if (mine?.result !== 'promoted' || mine.bundle !== digest) {
      throw new PromoteError('DEMO_AUTO_FAILED', `promote run --once did not promote ${shortDigest(digest, 'elided')} to ${first}: ${mine?.result ?? 'no outcome'} ${mine?.message ?? ''}`, { hint: 'the state is left in .promote/ to look at (promote status, promote history <stage>); promote demo --debug shows the cause' });
    }
    return `${first} ← ${shortDigest(digest, 'elided')} (promotion: auto): signature and parameters verified, ledger commit, record signed by ${keys.files.promoter}`;
  };
  const approveFor = async (stageName: string, r: DemoRelease, comment: string, explain = false): Promise<void> => {
    const approved = await approve(approver, stageName, r.digest, comment);
    const separate = gatesOf(stageName).some((g) => g.type === 'approval' && g.separateDuties);
    const why = explain ? ` (it binds the bundle and the ${stageName} parameters${separate ? "; one signed with the promoter's key would not count: separateDuties" : ''})` : '';
    step('approve', `${approved.by} approved ${shortDigest(r.digest, 'elided')} for ${stageName}, signed with ${keys.files.approver}${why}`);
  };
  const enterFirst = async (r: DemoRelease, comment: string): Promise<void> => {
    if (has(first, 'approval')) await approveFor(first, r, comment);
    if (firstStage.promotion === 'auto') {
      step('run --once', await autoPass(r.digest));
      return;
    }
    const result = await promoteTo(promoter, { stage: first, bundle: r.reference });
    step(`to ${first}`, `${first} ← ${shortDigest(result.bundle, 'elided')} (${repoShown}:${r.version}): signature and parameters verified${result.gates.length ? `, ${gateList(result)}` : ''}; ledger commit, record signed by ${keys.files.promoter}`);
  };
  // A stage between the first and the last (staging in the example), entered from the one before.
  const walk = async (stageName: string, r: DemoRelease, comment: string, detailed = false): Promise<void> => {
    if (has(stageName, 'approval')) await approveFor(stageName, r, comment);
    const { result, waited } = await promoteSoaked(stageName);
    const how = detailed ? ` from ${stageOf(stageName).from}${waited ? ` after the soak (waited ${(waited / 1000).toFixed(1)}s)` : ''}` : '';
    step(`to ${stageName}`, `${stageName} ← ${shortDigest(result.bundle, 'elided')}${how}: ${gateList(result)}`);
    step('agents', await converge(stageName, r.digest));
  };

  await enterFirst(v1, 'demo: reviewed the plan');
  // 5. The second stage is refused while the first has not converged (when it says so).
  const second = chain[1]!.name;
  if (has(second, 'converged')) {
    try {
      await promoteTo(promoter, { stage: second });
      throw new PromoteError('DEMO_NOT_REFUSED', `promote to ${second} was accepted before ${first} converged`, { hint: `check the converged gate of ${second} in the pipeline` });
    } catch (err) {
      step(`to ${second}`, `refused (exit 3): ${refusalLine(err)}`, 'refused');
    }
  }
  step('agents', await converge(first, v1.digest));
  for (const name of between) await walk(name, v1, 'demo: reviewed the plan', true);

  // 6. Release 1.1 enters the first stage while 1.0 is further on: a pipeline is a pipeline.
  //    With stages between, 1.0 soaks in the one before the last; with two stages, 1.1 waits
  //    until 1.0 runs in the last, since the last takes what the first runs.
  const secondComment = (src: SecondVersion): string => (src.after ? 'demo: new colour approved' : 'demo: reviewed 1.1');
  const secondRelease = async (where: string): Promise<{ v2: DemoRelease; v2src: SecondVersion }> => {
    const v2src = await prepareSecondVersion(bundleDir, join(state, 'demo', `${pipeline.name}-1.1`));
    const v2 = await release(v2src.dir, '1.1', 86_400);
    step('release', `${pipeline.name} 1.1 while 1.0 ${where} (${v2src.change}) → ${v2.digest}, pushed and signed`);
    await enterFirst(v2, secondComment(v2src));
    step('agents', await converge(first, v2.digest));
    return { v2, v2src };
  };
  const early = between.length ? await secondRelease(`soaks in ${between.at(-1)}`) : undefined;

  // 7. The last stage (production): refused without an approval by someone other than the
  //    promoter, when its gates ask for one.
  await soakWait(last);
  if (has(last, 'approval')) {
    try {
      await promoteTo(promoter, { stage: last });
      throw new PromoteError('DEMO_NOT_REFUSED', `promote to ${last} was accepted without an approval`, { hint: `check the approval gate of ${last} in the pipeline` });
    } catch (err) {
      step(`to ${last}`, `refused (exit 3): ${refusalLine(err)}`, 'refused');
    }
    await approveFor(last, v1, 'demo: reviewed the plan', true);
  }
  {
    const { result } = await promoteSoaked(last);
    step(`to ${last}`, `${last} ← ${shortDigest(result.bundle, 'elided')} by ${PROMOTER.name}: ${gateList(result)}`);
  }
  step('agents', await converge(last, v1.digest));
  const { v2, v2src } = early ?? (await secondRelease(`runs in ${last}`));

  // 8. Drift: someone edits a cluster of the last stage by hand; an agent that may not heal
  //    reports Drifted, the normal agent restores what the bundle says on its next round.
  const driftCluster = stageClusters[last]![0]!;
  let drift: DemoResult['drift'] = { cluster: driftCluster, file: '', detected: '', corrected: false };
  const healer = agents.get(`${last}/${driftCluster}`)!;
  // A second agent for the same cluster, told not to heal (what `--no-self-heal` runs). Its first
  // round adopts what is applied (no writes); after the edit it can only report. It shares the
  // cluster agent's parts: one replay state, one sequence of report numbers.
  const watcherTarget = options.kubeconfig ? await makeTarget(driftCluster) : healer.target;
  const watcher = clusterAgent(parts.get(`${last}/${driftCluster}`)!, watcherTarget, { pipeline: pipeline.name, stage: last, cluster: driftCluster }, false);
  const edit = options.kubeconfig
    ? await kubeHandEdit(watcher, watcherTarget, { bundleDir, root: projectDir, environment: stageOf(last).environment, cluster: driftCluster, stage: last })
    : await (async () => {
        await watcher.round();
        return dirHandEdit(clusterDirs[driftCluster]!, options.cwd);
      })();
  if (!edit) {
    step('drift', 'skipped: the bundle has no Namespace with labels to edit by hand');
  } else {
    step('hand edit', `${edit.where}: ${edit.what}, the way a 3 a.m. kubectl edit would`);
    const seen = await watcher.round();
    if (seen.status.phase !== 'Drifted') throw new PromoteError('DEMO_DRIFT_MISSED', `the hand edit of ${edit.id} was not detected: ${seen.status.phase} ${seen.status.message}`, { hint: 'the state is left in .promote/ to look at (promote status, promote history <stage>); promote demo --debug shows the cause' });
    step('agent', `${driftCluster} --no-self-heal: Drifted — ${seen.status.message}`);
    const healed = await healer.agent.round();
    const restored = await edit.restored();
    if (healed.status.reason !== 'DriftCorrected' || !restored) throw new PromoteError('DEMO_DRIFT_NOT_CORRECTED', `drift in ${edit.id} was not corrected: ${healed.status.phase} ${healed.status.message}`, { hint: 'the state is left in .promote/ to look at (promote status, promote history <stage>); promote demo --debug shows the cause' });
    step('agent', `${driftCluster}: Converged (DriftCorrected) — ${edit.id} restored from the bundle; the correction is in its status report`);
    drift = { cluster: driftCluster, file: edit.id, detected: seen.status.message, corrected: true };
  }
  await watcherTarget.close?.();

  for (const name of between) await walk(name, v2, secondComment(v2src));
  if (has(last, 'approval')) await approveFor(last, v2, secondComment(v2src));
  {
    const { result } = await promoteSoaked(last);
    step(`to ${last}`, `${last} ← ${shortDigest(result.bundle, 'elided')}: ${gateList(result)}`);
  }
  step('agents', await converge(last, v2.digest));

  // 9. Rollback: the last stage goes back to 1.0. Rollbacks pass the same gates: where they ask
  //    the stage before to run 1.0 (converged, soak), it runs 1.1 now, so only a forced
  //    rollback, with its reason in the ledger, may go back.
  let refusedWithoutForce: string | undefined;
  let back: PromoteResult | undefined;
  try {
    back = await rollback(promoter, { stage: last });
    step('rollback', `${last} ← ${shortDigest(back.bundle, 'elided')} (1.0): ${gateList(back)}`);
  } catch (err) {
    refusedWithoutForce = refusalLine(err);
    step('rollback', `refused (exit 3): ${refusedWithoutForce}`, 'refused');
  }
  let reason: string | undefined;
  if (!back) {
    reason = `demo: 1.1 is rolled back — ${v2src.after ? `colour ${v2src.after}` : 'it was'} rejected by design review`;
    back = await rollback(promoter, { stage: last, force: { reason } });
    step('rollback', `--force --reason "${reason}": ${last} ← ${shortDigest(back.bundle, 'elided')} (1.0); the reason is in the ledger and the signed record`);
  }
  step('agents', await converge(last, v1.digest));

  // 10. The state, as `promote status` shows it (its own code; with --registry the pipeline file
  //     names another repository, so the demo reads the same reports itself).
  let status: StatusRow[];
  let statusText: string | undefined;
  if (!options.registry) {
    const { pipelineStatus, statusTable } = await import('../promotion/status.ts');
    const ps = await pipelineStatus({ cwd: projectDir, env: gitEnv(options.env, PROMOTER), pipeline: pipelineFile, registry: registryOptions });
    statusText = statusTable(ps);
    const version = (d?: string): string | undefined => [v1, v2].find((r) => r.digest === d)?.version;
    status = ps.clusters.map((c) => ({
      stage: c.stage,
      cluster: c.cluster,
      ...(c.desired && { desired: c.desired.bundle }),
      ...(version(c.desired?.bundle) && { desiredVersion: version(c.desired?.bundle) }),
      ...(c.observed && { observed: c.observed.bundle, since: c.observed.since }),
      phase: c.observed?.phase ?? 'NoReport',
      ...(c.observed?.reason && { reason: c.observed.reason }),
    }));
  } else {
    status = await statusRows(promoter, stageClusters, [v1, v2]);
  }
  const stages: Record<string, string> = {};
  for (const s of chain) {
    const st = await promoter.ledger.read(pipeline.name, s.name);
    if (st?.record) stages[s.name] = st.record.bundle.digest;
  }

  // Printed to be run in the project directory (after the `cd` when it is not the current one).
  const here = (p: string): string => relative(projectDir, p) || '.';
  const repoHere = layoutPath ? `oci:${here(layoutPath)}` : repo;
  const pw = keys.files.password === 'demo' ? `PROMOTE_PASSWORD=${DEMO_PASSWORD} ` : '';
  const next = [
    ...(show(projectDir) === '.' ? [] : [`cd ${show(projectDir)}`]),
    'promote status',
    `promote history ${last}`,
    `promote plan ${last}`,
    `promote inspect ${repoHere}:1.1`,
    `promote verify ${repoHere}@${v1.digest} --key ${keys.files.ci.replace(/\.key$/, '.pub')}`,
    `promote diff-env ${chain.at(-2)!.environment} ${chain.at(-1)!.environment}/${stageClusters[last]!.at(-1)} ${relative(projectDir, bundleDir) || '.'}`,
    ...(options.kubeconfig ? [] : [`ls ${here(clusterDirs[driftCluster]!)}/manifests`]),
    `git -C ${here(pipeline.ledger.repository)} log --format='%h %an: %s'`,
    `${pw}promote agent --stage ${last} --cluster ${driftCluster} ${options.kubeconfig ? `--target kubernetes --kubeconfig ${options.kubeconfig}${contexts.includes(driftCluster) ? ` --context ${driftCluster}` : ''}` : `--target dir:${here(join(state, 'clusters', driftCluster))}`} --key ${keys.files.agent} --once`,
    `${pw}promote to ${last} --key ${keys.files.promoter}   # 1.1 again: its gates still pass (as you: your git identity is the promoter)`,
    // Last, where the whole story can be seen at once.
    'promote ui   # all of it in your browser at http://127.0.0.1:8080, live (Ctrl-C stops it)',
  ];
  for (const { target } of agents.values()) await target.close?.();
  return {
    project: projectDir,
    pipeline: pipeline.name,
    repository: repo,
    ledger: pipeline.ledger.repository,
    clusters: clusterDirs,
    keys: keys.files,
    releases: [
      { version: v1.version, digest: v1.digest, reference: v1.reference },
      { version: v2.version, digest: v2.digest, reference: v2.reference, change: v2src.change },
    ],
    steps,
    stages,
    drift,
    rollback: { stage: last, from: v2.digest, to: back.bundle, ...(refusedWithoutForce !== undefined && { refusedWithoutForce }), ...(reason !== undefined && { reason }) },
    status,
    ...(statusText && { statusText }),
    next,
    wallMs: Math.round(clock() - started),
  };
}

