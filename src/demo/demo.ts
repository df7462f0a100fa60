import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import type { AgentParts } from '../agent/agent-parts.ts';
import type { Reconciler } from '../agent/reconcile.ts';
import type { Target } from '../agent/target.ts';
import { isPromoteError, PromoteError } from '../errors.ts';
import type { RegistryOptions } from '../oci/open.ts';
import type { Pipeline } from '../pipeline/pipeline.ts';
import type { Project } from '../promotion/project.ts';
import type { PromoteResult } from '../promotion/to.ts';
import type { LocalKeySigner } from '../signing/signer.ts';
import { isGitUrl } from '../pipeline/git-url.ts';
import { clusterAgent, clusterAgentParts } from './cluster-agents.ts';
import { prepareSecondVersion } from './second-version.ts';

// `promote demo`: the whole product in one process, on the embedded defaults — keys, two signed
// releases, automatic promotion to dev, agents converging directory "clusters", gates refusing
// and then passing, an approval by a second person, drift detected and corrected, a rollback.
// Every step calls the same library functions the commands call; nothing is simulated: the gates
// read real signed status reports and the real clock, which is why the demo's pipeline soaks for
// seconds rather than hours (see pipelines/webapp.yaml).

const run = promisify(execFile);

/** For the demo's own keys only, when neither PROMOTE_PASSWORD nor COSIGN_PASSWORD is set. */
export const DEMO_PASSWORD = 'promote-demo';
/** Commit times of the two demo releases: fixed, so the digests are the same on every run. */
const RELEASE_EPOCH = 1_767_225_600; // 2026-01-01T00:00:00Z

export const PROMOTER = { name: 'Pat Promoter', email: 'pat@example.com' };
export const APPROVER = { name: 'Alex Approver', email: 'alex@example.com' };

export interface DemoOptions {
  /** The project root (holding pipelines/ and environments/). */
  project: string;
  env: NodeJS.ProcessEnv;
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

export interface DemoStep {
  at: string;
  step: string;
  /** `ok`, or `refused` for the refusals the story expects. */
  result: 'ok' | 'refused';
  detail: string;
  ms: number;
}

export interface DemoRelease {
  version: string;
  digest: string;
  reference: string;
  change?: string;
}

export interface StatusRow {
  stage: string;
  cluster: string;
  /** Bundle digest of the stage's promotion record. */
  desired?: string;
  desiredVersion?: string;
  observed?: string;
  phase: string;
  since?: string;
  reason?: string;
}

export interface DemoResult {
  project: string;
  pipeline: string;
  repository: string;
  ledger: string;
  clusters: Record<string, string>;
  keys: { ci: string; promoter: string; agent: string; approver: string; password: 'PROMOTE_PASSWORD' | 'COSIGN_PASSWORD' | 'demo' };
  releases: DemoRelease[];
  steps: DemoStep[];
  /** The bundle digest each stage's record names at the end. */
  stages: Record<string, string>;
  drift: { cluster: string; file: string; detected: string; corrected: boolean };
  rollback: { stage: string; from: string; to: string; refusedWithoutForce: string; reason: string };
  status: StatusRow[];
  /** The table `promote status` prints, when the demo ran on the pipeline's own repository. */
  statusText?: string;
  next: string[];
  wallMs: number;
}

interface Keys {
  ci: LocalKeySigner;
  promoter: LocalKeySigner;
  agent: LocalKeySigner;
  approver: LocalKeySigner;
  files: DemoResult['keys'];
  created: string[];
}

function short(digest: string): string {
  return `${digest.slice(0, 19)}…`;
}

function inside(parent: string, child: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** The bundle of a project: `<root>/bundle.yaml`, else the only `bundles/<name>/`. */
export async function findBundleDir(root: string): Promise<string> {
  if (await exists(join(root, 'bundle.yaml'))) return root;
  const names = await readdir(join(root, 'bundles')).catch(() => [] as string[]);
  const found: string[] = [];
  for (const n of names.sort()) if (await exists(join(root, 'bundles', n, 'bundle.yaml'))) found.push(join(root, 'bundles', n));
  if (found.length === 1) return found[0]!;
  throw new PromoteError('DEMO_NO_BUNDLE', found.length ? `${root} has ${found.length} bundles under bundles/; the demo runs one` : `no bundle in ${root} (bundle.yaml or bundles/<name>/bundle.yaml)`, {
    outcome: 'usage',
    hint: 'run the demo in the promote repository, or on a project made by promote init (promote demo --project <dir>)',
  });
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
    const rel = relative(process.cwd(), p);
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

  const [{ findPipelineFile, loadPipeline, projectRoot }, { openProject }, { promoteTo }, { runOnce }, { approve }, { rollback }, { openRegistry }, { parseReference, formatReference, repositoryName }] = await Promise.all([
    import('../pipeline/load.ts'),
    import('../promotion/project.ts'),
    import('../promotion/to.ts'),
    import('../promotion/run.ts'),
    import('../promotion/approve.ts'),
    import('../promotion/rollback.ts'),
    import('../oci/open.ts'),
    import('../oci/reference.ts'),
  ]);
  const pipelineFile = await findPipelineFile(root, options.pipeline);
  const projectDir = projectRoot(pipelineFile);
  let pipeline: Pipeline = await loadPipeline(pipelineFile);
  if (options.registry) {
    const ref = parseReference(options.registry);
    if (ref.tag !== undefined || ref.digest !== undefined) {
      throw new PromoteError('USAGE', `--registry takes a repository, not a tag or digest: ${options.registry}`, { outcome: 'usage', hint: 'e.g. --registry localhost:5000/acme/webapp (the demo tags its releases 1.0 and 1.1)' });
    }
    pipeline = { ...pipeline, repository: options.registry };
  }
  // Checked before keys or state are touched: the wrong pipeline must not reset anything.
  const [first, second, third] = pipeline.stages.map((s) => s.name);
  if (!first || !second || !third || pipeline.stages.length !== 3) {
    throw new PromoteError('DEMO_PIPELINE_SHAPE', `the demo runs a three-stage pipeline (dev → staging → production); ${pipeline.name} has ${pipeline.stages.length} stages`, { outcome: 'usage', hint: 'promote init scaffolds one' });
  }
  const bundleDir = await findBundleDir(projectDir);
  const state = join(projectDir, '.promote');
  const registryIsLocal = pipeline.repository.startsWith('oci:');
  // The demo pushes releases and promotes them: only into its own state, or where --registry
  // says. A pipeline that names the team's registry or ledger is not the demo's to write to.
  const parsedRepo = parseReference(pipeline.repository);
  const layoutPath = parsedRepo.transport === 'layout' ? parsedRepo.path : undefined;
  if (!options.registry && !(layoutPath && inside(state, layoutPath))) {
    throw new PromoteError('DEMO_FOREIGN_REGISTRY', `pipeline ${pipeline.name} pushes to ${pipeline.repository}; the demo only writes to an OCI layout under ${show(state)}/ unless --registry names one`, {
      outcome: 'usage',
      hint: `run promote demo --registry <a scratch repository>, or use repository: oci:./.promote/registry/${pipeline.name} (as promote init writes it)`,
    });
  }
  if (isGitUrl(pipeline.ledger.repository) || !inside(state, pipeline.ledger.repository)) {
    throw new PromoteError('DEMO_FOREIGN_LEDGER', `pipeline ${pipeline.name} records promotions in ${pipeline.ledger.repository}; the demo only writes a ledger under ${show(state)}/`, {
      outcome: 'usage',
      hint: 'set ledger: {repository: ./.promote/ledger, branch: main} for the demo (as promote init writes it)',
    });
  }

  // 1. Keys first (a wrong password must fail before anything is reset): the CI key signs
  //    bundles, the promoter's key signs records, the agents' key signs status reports.
  const keys = await demoKeys(projectDir, pipeline, options.env);
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
    const names = env.clusters.length ? env.clusters.map((c) => c.name) : [stage.environment];
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
    return `${rounds.map((x) => x.cluster).join(', ')}: Converged on ${short(expectBundle)} (${objects} objects${rounds.length > 1 ? ' each' : ''}, ${writes} writes in ${where}); signed status report${rounds.length > 1 ? 's' : ''} published`;
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
  const gateList = (r: PromoteResult): string => r.gates.map((g) => `${g.gate} ✓`).join(', ');

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

  // 4. dev is `promotion: auto`: one pass of the controller takes the new signed bundle.
  const autoPass = async (digest: string): Promise<string> => {
    const outcomes = await runOnce(promoter);
    const mine = outcomes.find((o) => o.stage === first);
    if (mine?.result !== 'promoted' || mine.bundle !== digest) {
      throw new PromoteError('DEMO_AUTO_FAILED', `promote run --once did not promote ${short(digest)} to ${first}: ${mine?.result ?? 'no outcome'} ${mine?.message ?? ''}`, { hint: 'the state is left in .promote/ to look at (promote status, promote history <stage>); promote demo --debug shows the cause' });
    }
    return `${first} ← ${short(digest)} (promotion: auto): signature and parameters verified, ledger commit, record signed by ${keys.files.promoter}`;
  };
  step('run --once', await autoPass(v1.digest));

  // 5. staging: refused while dev has not converged.
  try {
    await promoteTo(promoter, { stage: second });
    throw new PromoteError('DEMO_NOT_REFUSED', `promote to ${second} was accepted before ${first} converged`, { hint: `check the gates of ${second} in the pipeline: the demo expects converged (and soak) there` });
  } catch (err) {
    step(`to ${second}`, `refused (exit 3): ${refusalLine(err)}`, 'refused');
  }
  step('agents', await converge(first, v1.digest));
  {
    const { result, waited } = await promoteSoaked(second);
    step(`to ${second}`, `${second} ← ${short(result.bundle)} from ${first}${waited ? ` after the soak (waited ${(waited / 1000).toFixed(1)}s)` : ''}: ${gateList(result)}`);
  }
  step('agents', await converge(second, v1.digest));

  // 6. While 1.0 soaks in staging, release 1.1 enters dev: a pipeline is a pipeline.
  const v2src = await prepareSecondVersion(bundleDir, join(state, 'demo', `${pipeline.name}-1.1`));
  const v2 = await release(v2src.dir, '1.1', 86_400);
  step('release', `${pipeline.name} 1.1 while 1.0 soaks in ${second} (${v2src.change}) → ${v2.digest}, pushed and signed`);
  step('run --once', await autoPass(v2.digest));
  step('agents', await converge(first, v2.digest));
  // 7. production: refused without an approval by someone other than the promoter.
  await soakWait(third);
  try {
    await promoteTo(promoter, { stage: third });
    throw new PromoteError('DEMO_NOT_REFUSED', `promote to ${third} was accepted without an approval`, { hint: `the demo expects an approval gate on ${third} in the pipeline` });
  } catch (err) {
    step(`to ${third}`, `refused (exit 3): ${refusalLine(err)}`, 'refused');
  }
  const approved1 = await approve(approver, third, v1.digest, 'demo: reviewed the plan');
  step('approve', `${approved1.by} approved ${short(v1.digest)} for ${third}, signed with ${keys.files.approver} (it binds the bundle and the ${third} parameters; one signed with the promoter's key would not count: separateDuties)`);
  {
    const { result } = await promoteSoaked(third);
    step(`to ${third}`, `${third} ← ${short(result.bundle)} by ${PROMOTER.name}: ${gateList(result)}`);
  }
  step('agents', await converge(third, v1.digest));

  // 8. Drift: someone edits a production cluster by hand; an agent that may not heal reports
  //    Drifted, the normal agent restores what the bundle says on its next round.
  const driftCluster = stageClusters[third]![0]!;
  let drift: DemoResult['drift'] = { cluster: driftCluster, file: '', detected: '', corrected: false };
  const healer = agents.get(`${third}/${driftCluster}`)!;
  // A second agent for the same cluster, told not to heal (what `--no-self-heal` runs). Its first
  // round adopts what is applied (no writes); after the edit it can only report. It shares the
  // cluster agent's parts: one replay state, one sequence of report numbers.
  const watcherTarget = options.kubeconfig ? await makeTarget(driftCluster) : healer.target;
  const watcher = clusterAgent(parts.get(`${third}/${driftCluster}`)!, watcherTarget, { pipeline: pipeline.name, stage: third, cluster: driftCluster }, false);
  const edit = options.kubeconfig
    ? await kubeHandEdit(watcher, watcherTarget, { bundleDir, root: projectDir, environment: pipeline.stages[2]!.environment, cluster: driftCluster, stage: third })
    : await (async () => {
        await watcher.round();
        return dirHandEdit(clusterDirs[driftCluster]!);
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

  {
    const { result } = await promoteSoaked(second);
    step(`to ${second}`, `${second} ← ${short(result.bundle)}: ${gateList(result)}`);
  }
  step('agents', await converge(second, v2.digest));
  const approved2 = await approve(approver, third, v2.digest, 'demo: new colour approved');
  step('approve', `${approved2.by} approved ${short(v2.digest)} for ${third}, signed with ${keys.files.approver}`);
  {
    const { result } = await promoteSoaked(third);
    step(`to ${third}`, `${third} ← ${short(result.bundle)}: ${gateList(result)}`);
  }
  step('agents', await converge(third, v2.digest));

  // 9. Rollback: production goes back to 1.0. Rollbacks pass the same gates; staging runs 1.1
  //    now, so only a forced rollback, with its reason in the ledger, may go back.
  let refusedWithoutForce = '';
  try {
    await rollback(promoter, { stage: third });
    throw new PromoteError('DEMO_NOT_REFUSED', `the rollback of ${third} passed its gates unexpectedly`, { hint: `the demo expects converged gates on ${third}, so that only a forced rollback may go back` });
  } catch (err) {
    refusedWithoutForce = refusalLine(err);
    step('rollback', `refused (exit 3): ${refusedWithoutForce}`, 'refused');
  }
  const reason = `demo: 1.1 is rolled back — ${v2src.after ? `colour ${v2src.after}` : 'it'} rejected by design review`;
  const back = await rollback(promoter, { stage: third, force: { reason } });
  step('rollback', `--force --reason "${reason}": ${third} ← ${short(back.bundle)} (1.0); the reason is in the ledger and the signed record`);
  step('agents', await converge(third, v1.digest));

  // 10. The state, as `promote status` shows it (its own code; with --registry the pipeline file
  //     names another repository, so the demo reads the same reports itself).
  let status: StatusRow[];
  let statusText: string | undefined;
  if (!options.registry) {
    const { pipelineStatus, statusTable } = await import('../agent/status.ts');
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
  for (const s of pipeline.stages) {
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
    `promote history ${third}`,
    `promote plan ${third}`,
    `promote inspect ${repoHere}:1.1`,
    `promote verify ${repoHere}@${v1.digest} --key ${keys.files.ci.replace(/\.key$/, '.pub')}`,
    `promote diff-env ${pipeline.stages[1]!.environment} ${pipeline.stages[2]!.environment}/${stageClusters[third]!.at(-1)} ${relative(projectDir, bundleDir) || '.'}`,
    ...(options.kubeconfig ? [] : [`ls ${here(clusterDirs[driftCluster]!)}/manifests`]),
    `git -C ${here(pipeline.ledger.repository)} log --format='%h %an: %s'`,
    `${pw}promote agent --stage ${third} --cluster ${driftCluster} ${options.kubeconfig ? `--target kubernetes --kubeconfig ${options.kubeconfig}${contexts.includes(driftCluster) ? ` --context ${driftCluster}` : ''}` : `--target dir:${here(join(state, 'clusters', driftCluster))}`} --key ${keys.files.agent} --once`,
    `${pw}promote to ${third} --key ${keys.files.promoter}   # 1.1 again: its gates still pass (as you: your git identity is the promoter)`,
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
    rollback: { stage: third, from: v2.digest, to: back.bundle, refusedWithoutForce, reason },
    status,
    ...(statusText && { statusText }),
    next,
    wallMs: Math.round(clock() - started),
  };
}

async function kubeContexts(file: string): Promise<string[]> {
  const { parse } = await import('yaml');
  const doc = parse(await readFile(file, 'utf8')) as { contexts?: { name?: string }[] } | null;
  return (doc?.contexts ?? []).map((c) => c.name).filter((n): n is string => typeof n === 'string');
}

interface HandEdit {
  /** What the agents call the object (a file path, or `Kind namespace/name`). */
  id: string;
  where: string;
  what: string;
  /** Is it back to what the bundle says? */
  restored(): Promise<boolean>;
}

/** Changes one number in the first rendered manifest that has a `maxReplicas:` or `replicas:`. */
async function dirHandEdit(dir: string): Promise<HandEdit> {
  const files: string[] = [];
  const walk = async (d: string): Promise<void> => {
    for (const e of (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.')) continue;
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (/\.ya?ml$/.test(e.name)) files.push(join(d, e.name));
    }
  };
  await walk(dir);
  const pick = async (): Promise<{ f: string; text: string; m?: RegExpExecArray }> => {
    for (const f of files) {
      const text = await readFile(f, 'utf8');
      const m = /^(\s*)(maxReplicas|replicas): (\d+)\s*$/m.exec(text);
      if (m) return { f, text, m };
    }
    return { f: files[0]!, text: await readFile(files[0]!, 'utf8') };
  };
  const { f, text, m } = await pick();
  const to = m ? Number(m[3]) * 10 : 0;
  await writeFile(f, m ? text.replace(m[0], `${m[1]}${m[2]}: ${to}`) : `${text}# edited by hand\n`);
  const id = relative(dir, f).split(sep).join('/');
  return {
    id,
    where: relative(process.cwd(), f).startsWith('..') ? f : relative(process.cwd(), f),
    what: m ? `${m[2]} ${m[3]} → ${to}` : 'a line added',
    restored: async () => (await readFile(f, 'utf8')) === text,
  };
}

/** Relabels the bundle's Namespace in the cluster, as `kubectl label --overwrite` would. */
async function kubeHandEdit(watcher: Reconciler, target: Target, render: { bundleDir: string; root: string; environment: string; cluster: string; stage: string }): Promise<HandEdit | undefined> {
  const { renderEnvironment } = await import('../bundle/render-environment.ts');
  const { files } = await renderEnvironment(render);
  type Doc = { kind?: string; metadata?: { name?: string; labels?: Record<string, string> } };
  const ns = files.flatMap((f) => (f.documents ?? []) as Doc[]).find((d) => d?.kind === 'Namespace' && d.metadata?.name && Object.keys(d.metadata.labels ?? {}).length);
  if (!ns) return undefined;
  const client = (target as unknown as { client: { call(method: string, path: string, body?: unknown, contentType?: string): Promise<unknown> } }).client;
  const name = ns.metadata!.name!;
  const [key, value] = Object.entries(ns.metadata!.labels!)[0]!;
  await watcher.round();
  const path = `/api/v1/namespaces/${encodeURIComponent(name)}`;
  await client.call('PATCH', `${path}?fieldManager=kubectl-edit`, { metadata: { labels: { [key]: 'edited-by-hand' } } }, 'application/merge-patch+json');
  return {
    id: `Namespace ${name}`,
    where: `kubectl label namespace ${name} ${key}=edited-by-hand --overwrite (cluster ${render.cluster})`,
    what: `${key} ${value} → edited-by-hand`,
    restored: async () => ((await client.call('GET', path)) as Doc).metadata?.labels?.[key] === value,
  };
}

async function demoKeys(root: string, pipeline: Pipeline, env: NodeJS.ProcessEnv): Promise<Keys> {
  const [{ generateKeyFiles }, { loadSigner }, { passwordFromEnv }] = await Promise.all([import('../signing/keygen.ts'), import('../signing/signer.ts'), import('../signing/password.ts')]);
  const pub = (list: Pipeline['trust']['bundles'], what: string, i = 0): string => {
    const keys = list.filter((e): e is { key: string } => 'key' in e).map((e) => e.key);
    const k = keys[i] ?? keys[0];
    if (!k || !k.endsWith('.pub')) {
      throw new PromoteError('DEMO_TRUST_KEYS', `the demo signs with key files, and trust.${what} of ${pipeline.name} names no .pub file`, { outcome: 'usage', hint: 'list e.g. .promote/keys/ci.pub (promote init writes such a pipeline)' });
    }
    return k;
  };
  const ciPub = pub(pipeline.trust.bundles, 'bundles');
  const promoterPub = pub(pipeline.trust.promotions, 'promotions');
  // Status reports are signed by trust.agents (default: the promotion signers).
  const agentPub = pipeline.trust.agents.length ? pub(pipeline.trust.agents, 'agents') : pub(pipeline.trust.promotions, 'promotions', 1);
  // Approvals are signed by trust.approvers: the demo's separateDuties gate needs it.
  const approverPub = pub(pipeline.trust.approvers, 'approvers');
  const fromEnv = passwordFromEnv(env);
  const password = fromEnv ?? DEMO_PASSWORD;
  const source: DemoResult['keys']['password'] = fromEnv === undefined ? 'demo' : env.PROMOTE_PASSWORD !== undefined ? 'PROMOTE_PASSWORD' : 'COSIGN_PASSWORD';
  const created: string[] = [];
  const signers = new Map<string, LocalKeySigner>();
  // scrypt makes each key ~0.5 s to create or open: all of them at once (libuv's thread pool).
  await Promise.all([...new Set([ciPub, promoterPub, agentPub, approverPub])].map(async (p) => {
    const base = resolve(root, p.replace(/\.pub$/, ''));
    const [hasKey, hasPub] = await Promise.all([exists(`${base}.key`), exists(`${base}.pub`)]);
    if (!hasKey && !hasPub) {
      await mkdir(resolve(base, '..'), { recursive: true });
      await generateKeyFiles(base, { password });
      created.push(p);
    } else if (!hasKey) {
      throw new PromoteError('DEMO_KEY_MISSING', `${p} exists but its private key ${p.replace(/\.pub$/, '.key')} does not`, { outcome: 'usage', hint: 'the demo signs with the private key of every trusted .pub; remove the .pub to let the demo create a pair' });
    }
    try {
      signers.set(p, await loadSigner(`${base}.key`, { env: { ...env, PROMOTE_PASSWORD: password }, interactive: false }));
    } catch (err) {
      if (isPromoteError(err) && hasKey) {
        const tried = fromEnv === undefined ? `the demo password "${DEMO_PASSWORD}"` : 'the password in PROMOTE_PASSWORD/COSIGN_PASSWORD';
        throw new PromoteError(err.code, `${err.message} (tried ${tried})`, {
          cause: err,
          outcome: err.outcome,
          hint: `these keys come from an earlier run or from promote init: set PROMOTE_PASSWORD to their password${fromEnv === undefined ? '' : ' (or unset it for the demo password)'}, or remove ${relative(process.cwd(), resolve(base, '..')) || '.'}/ to let the demo create new keys`,
        });
      }
      throw err;
    }
  }));
  created.sort();
  return {
    ci: signers.get(ciPub)!,
    promoter: signers.get(promoterPub)!,
    agent: signers.get(agentPub)!,
    approver: signers.get(approverPub)!,
    files: { ci: ciPub.replace(/\.pub$/, '.key'), promoter: promoterPub.replace(/\.pub$/, '.key'), agent: agentPub.replace(/\.pub$/, '.key'), approver: approverPub.replace(/\.pub$/, '.key'), password: source },
    created,
  };
}

/** stage × cluster: the digest each stage's record names, and what each agent last reported. */
async function statusRows(project: Project, stageClusters: Record<string, string[]>, releases: DemoRelease[]): Promise<StatusRow[]> {
  const { readStatusReport } = await import('../records/status-report.ts');
  const trust = await project.agentTrust();
  const version = (d?: string): string | undefined => releases.find((r) => r.digest === d)?.version;
  const rows: StatusRow[] = [];
  for (const stage of project.pipeline.stages) {
    const st = await project.ledger.read(project.pipeline.name, stage.name);
    const desired = st?.record?.bundle.digest;
    for (const cluster of stageClusters[stage.name] ?? []) {
      const r = await readStatusReport(project.registry, stage.name, cluster, trust);
      const dv = version(desired);
      rows.push({
        stage: stage.name,
        cluster,
        ...(desired && { desired }),
        ...(dv && { desiredVersion: dv }),
        ...(r?.bundle && { observed: r.bundle }),
        phase: r?.phase ?? 'NoReport',
        ...(r?.since && { since: r.since }),
        ...(r?.reason && { reason: r.reason }),
      });
    }
  }
  return rows;
}
