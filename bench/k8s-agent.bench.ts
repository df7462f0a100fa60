// The Kubernetes agent beside `kubectl apply --server-side` (issue 19), on kube-prometheus
// trimmed to what the v1.20 test server serves, each measured in the same run on a fresh API
// server of its own, through the request-counting proxy (test/harness/k8s-request-counter.ts):
//  - first apply into an empty cluster and a no-op re-apply: the CLI agent `--once` (a new
//    process each time, as a CronJob would run it) vs kubectl (its discovery cache cold for the
//    first apply, warm for the re-apply, as kubectl keeps it on disk);
//  - an idle round of a long-running agent (`--interval`, after its first apply) vs kubectl's
//    no-op re-apply, the cheapest way kubectl has to check a cluster;
//  - wall time, API requests by verb, body bytes both ways, and peak memory (VmHWM): of each
//    `--once` process, of the long-running agent after BENCH_K8S_ROUNDS rounds, of kubectl.
// Goals (issue 19): idle round ≤ 10 requests; first apply ≤ 1.0× kubectl's requests; long-running
// peak ≤ 150 MiB. Health is not waited for (--health-timeout 0s): kubectl does not wait either,
// and nothing becomes healthy on a server without a kubelet.
// Sizes: BENCH_K8S_ROUNDS (default 9 rounds of the long-running agent), BENCH_K8S_INTERVAL (2s).
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatVerbs, startKubeRequestCounter, type KubeRequestCounter, type RequestTally } from '../test/harness/k8s-request-counter.ts';
import { k8sPrefix, startKubernetes, type KubeServer } from '../test/harness/kubernetes.ts';
import { startRegistry } from '../test/harness/registry.ts';
import { renderTools } from '../test/harness/render-tools.ts';
import { agentArgs, kubePrometheus120, kubePrometheusProject, spawnMeasured, startAgentRound, writeManifests } from '../test/agent/kube-prometheus-agent.ts';

const ROUNDS = Math.max(2, Number(process.env.BENCH_K8S_ROUNDS ?? 9));
const INTERVAL = process.env.BENCH_K8S_INTERVAL ?? '2s';

interface Figure {
  wallMs: number;
  tally: RequestTally;
  peakMiB: number;
  code?: number | null;
  phase?: string;
}

function lastPhase(lines: string[]): string {
  const line = lines.filter((l) => l.includes('"msg":"reconciled"')).at(-1);
  return line ? (JSON.parse(line) as { phase: string }).phase : 'no round';
}

const row = (cells: (string | number)[]): string => cells.map((c, i) => String(c).padEnd(i === 0 ? 44 : 30)).join('');
const kb = (n: number): string => `${(n / 1024).toFixed(0)} KiB`;
const ratio = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a');

async function withCluster<T>(fn: (kube: KubeServer, counter: KubeRequestCounter) => Promise<T>): Promise<T> {
  const kube = await startKubernetes();
  const counter = await startKubeRequestCounter(kube);
  try {
    return await fn(kube, counter);
  } finally {
    await counter.stop();
    await kube.stop();
  }
}

/** Until every CRD on `kube` is Established (asked directly, not through the counter). */
async function established(kube: KubeServer): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const { body } = await kube.api('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions');
    const items = (body as { items: { status?: { conditions?: { type: string; status: string }[] } }[] }).items;
    if (items.length > 0 && items.every((c) => c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'))) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('the CRDs were not Established within 120 s');
}

async function main(): Promise<void> {
  if (!existsSync(join(k8sPrefix(), 'bin', 'kube-apiserver'))) {
    console.log('k8s-agent: skipped — no Kubernetes build in the cache (scripts/k8s/build-k8s-from-debian.sh ~/.cache/promote/k8s)');
    return;
  }
  const base = await mkdtemp(join(tmpdir(), 'promote-k8s-bench-'));
  const reg = await startRegistry();
  try {
    const { files, objects } = await kubePrometheus120();
    // kubectl applies files in the order given, Namespaces and CRDs no earlier: kube-prometheus'
    // README has it apply setup/ first and wait for the CRDs to be Established. Its figures are the
    // two applies together; the wait between them is done by the bench, not counted for kubectl.
    const setupDir = await writeManifests(files.filter((f) => f.path.startsWith('setup/')), join(base, 'kubectl-setup'));
    const restDir = await writeManifests(files.filter((f) => !f.path.startsWith('setup/')), join(base, 'kubectl-manifests'));
    const { kubectl } = await renderTools();
    const { p } = await kubePrometheusProject(base, reg.host);
    let retried = 0;

    // kubectl, on a server of its own.
    const kubectlRun = async (kube: KubeServer, kubeconfig: string, cache: string, counter: KubeRequestCounter): Promise<Figure & { stderr: string }> => {
      counter.reset();
      const common = ['--kubeconfig', kubeconfig, '--cache-dir', cache];
      let wallMs = 0;
      let peakMiB = 0;
      let code: number | null = 0;
      const stderr: string[] = [];
      for (const dir of [setupDir, restDir]) {
        if (dir === restDir) await established(kube);
        const proc = spawnMeasured(kubectl, ['apply', '--server-side', '--field-manager', 'kubectl-bench', '-f', dir, ...common]);
        const r = await proc.exited;
        wallMs += r.wallMs;
        peakMiB = Math.max(peakMiB, proc.peakMiB());
        if (r.code !== 0) code = r.code;
        stderr.push(...proc.stderrLines);
      }
      return { wallMs, code, peakMiB, tally: counter.tally(), stderr: stderr.join('\n') };
    };
    const k = await withCluster(async (kube, counter) => {
      const kc = await counter.writeKubeconfig(join(base, 'kc-kubectl'));
      const cache = join(base, 'kubectl-cache');
      const first = await kubectlRun(kube, kc, cache, counter);
      const noop = await kubectlRun(kube, kc, cache, counter);
      return { first, noop };
    });

    // The agent `--once`, twice, on a second server.
    const once = async (kubeconfig: string, cacheDir: string, counter: KubeRequestCounter): Promise<Figure> => {
      counter.reset();
      const { proc, restarts } = await startAgentRound(() => {
        counter.reset();
        return spawnMeasured(process.execPath, agentArgs(p, kubeconfig, cacheDir, ['--once', '--output', 'json']), { cwd: p.dir, env: p.env });
      }, 300_000);
      retried += restarts;
      const { code, wallMs } = await proc.exited;
      const phase = lastPhase(proc.stderrLines);
      // Degraded is what this server allows (no kubelet); anything else means the figures are not of an apply.
      if (phase !== 'Degraded' && phase !== 'Converged') throw new Error(`agent --once ended ${phase}: ${proc.stderrLines.slice(-3).join('\n')}`);
      return { wallMs, code, peakMiB: proc.peakMiB(), tally: counter.tally(), phase };
    };
    const a = await withCluster(async (_kube, counter) => {
      const kc = await counter.writeKubeconfig(join(base, 'kc-once'));
      const first = await once(kc, join(base, 'cache-once'), counter);
      const noop = await once(kc, join(base, 'cache-once'), counter);
      return { first, noop };
    });

    // A long-running agent on a third server: its first apply, then ROUNDS - 1 idle rounds.
    const long = await withCluster(async (_kube, counter) => {
      const kc = await counter.writeKubeconfig(join(base, 'kc-long'));
      const { proc, restarts } = await startAgentRound(() => {
        counter.reset();
        return spawnMeasured(process.execPath, agentArgs(p, kc, join(base, 'cache-long'), ['--interval', INTERVAL]), { cwd: p.dir, env: p.env });
      }, 300_000);
      retried += restarts;
      try {
        const firstRound = counter.tally();
        counter.reset();
        const t0 = performance.now();
        await proc.rounds(ROUNDS, 300_000);
        const idleRounds = ROUNDS - 1;
        const idle = counter.tally();
        const durations = proc.stderrLines.filter((l) => l.includes('"msg":"reconciled"')).slice(1).map((l) => JSON.parse(l).durationMs as number);
        return { firstRound, idle, idleRounds, roundMs: durations.reduce((x, y) => x + y, 0) / Math.max(1, durations.length), spanMs: performance.now() - t0, peakMiB: proc.peakMiB(), phase: lastPhase(proc.stderrLines) };
      } finally {
        await proc.stop();
      }
    });

    const per = (t: RequestTally, n: number) => ({ total: t.total / n, responseBytes: t.responseBytes / n, requestBytes: t.requestBytes / n });
    const idle = per(long.idle, long.idleRounds);
    const kubectlFailed = (k.first.stderr.match(/^error|Error from server/gm) ?? []).length;
    console.log(`kube-prometheus for v1.20: ${objects} objects (policy/v1 left out); agent --once ${a.first.phase}/${a.noop.phase} (no kubelet: Degraded at best), long-running ${long.phase}; kubectl exit ${k.first.code}/${k.noop.code}${kubectlFailed ? ` (${kubectlFailed} errors, e.g. ${k.first.stderr.split('\n').find((l) => /error/i.test(l))?.slice(0, 160)})` : ''}`);
    console.log(row(['measure', 'promote agent', 'kubectl apply --server-side', 'ratio / goal']));
    console.log(row(['first apply: wall ms', Math.round(a.first.wallMs), Math.round(k.first.wallMs), ratio(a.first.wallMs, k.first.wallMs)]));
    console.log(row(['first apply: API requests', a.first.tally.total, k.first.tally.total, `${ratio(a.first.tally.total, k.first.tally.total)}; goal ≤ 1.00x`]));
    console.log(row(['first apply: bytes sent / received', `${kb(a.first.tally.requestBytes)} / ${kb(a.first.tally.responseBytes)}`, `${kb(k.first.tally.requestBytes)} / ${kb(k.first.tally.responseBytes)}`, ratio(a.first.tally.responseBytes, k.first.tally.responseBytes)]));
    console.log(row(['first apply: peak memory MiB (--once)', a.first.peakMiB.toFixed(0), k.first.peakMiB.toFixed(0), ratio(a.first.peakMiB, k.first.peakMiB)]));
    console.log(row(['no-op re-apply: wall ms', Math.round(a.noop.wallMs), Math.round(k.noop.wallMs), ratio(a.noop.wallMs, k.noop.wallMs)]));
    console.log(row(['no-op re-apply: API requests (writes)', `${a.noop.tally.total} (${a.noop.tally.writes})`, `${k.noop.tally.total} (${k.noop.tally.writes})`, ratio(a.noop.tally.total, k.noop.tally.total)]));
    console.log(row(['no-op re-apply: bytes sent / received', `${kb(a.noop.tally.requestBytes)} / ${kb(a.noop.tally.responseBytes)}`, `${kb(k.noop.tally.requestBytes)} / ${kb(k.noop.tally.responseBytes)}`, ratio(a.noop.tally.responseBytes, k.noop.tally.responseBytes)]));
    console.log(row(['no-op re-apply: peak memory MiB', a.noop.peakMiB.toFixed(0), k.noop.peakMiB.toFixed(0), ratio(a.noop.peakMiB, k.noop.peakMiB)]));
    console.log(row([`idle round (${long.idleRounds} of a ${INTERVAL} agent): requests`, idle.total.toFixed(1), `${k.noop.tally.total} (no-op apply)`, `${ratio(idle.total, k.noop.tally.total)}; goal ≤ 10`]));
    console.log(row(['idle round: bytes sent / received', `${kb(idle.requestBytes)} / ${kb(idle.responseBytes)}`, `${kb(k.noop.tally.requestBytes)} / ${kb(k.noop.tally.responseBytes)}`, '']));
    console.log(row(['idle round: wall ms (agent log)', Math.round(long.roundMs), Math.round(k.noop.wallMs), ratio(long.roundMs, k.noop.wallMs)]));
    console.log(row([`long-running agent: peak MiB after ${ROUNDS} rounds`, long.peakMiB.toFixed(0), `${k.first.peakMiB.toFixed(0)} (first apply)`, `${ratio(long.peakMiB, k.first.peakMiB)}; goal ≤ 150 MiB`]));
    console.log(row(['long-running agent: first round requests', long.firstRound.total, k.first.tally.total, ratio(long.firstRound.total, k.first.tally.total)]));
    console.log('requests by verb:');
    console.log(`  agent first apply:  ${formatVerbs(a.first.tally)}`);
    console.log(`  kubectl first:      ${formatVerbs(k.first.tally)}`);
    console.log(`  agent no-op:        ${formatVerbs(a.noop.tally)}`);
    console.log(`  kubectl no-op:      ${formatVerbs(k.noop.tally)}`);
    console.log(`  agent idle rounds:  ${formatVerbs(long.idle)} (over ${long.idleRounds} rounds; last phase ${long.phase})`);
    if (retried) console.log(`(${retried} agent start(s) repeated: the first round could not reach the registry — its --insecure TLS probe timed out under load)`);
    const goals = [idle.total <= 10, a.first.tally.total <= k.first.tally.total, long.peakMiB <= 150];
    console.log(`goals met: idle ≤ 10 requests ${goals[0] ? 'yes' : 'NO'}; first apply ≤ kubectl's requests ${goals[1] ? 'yes' : 'NO'}; long-running peak ≤ 150 MiB ${goals[2] ? 'yes' : 'NO'}`);
  } finally {
    await reg.stop();
    await rm(base, { recursive: true, force: true });
  }
}

await main();
