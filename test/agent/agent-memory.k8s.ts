// A regression bound on the memory of a long-running `promote agent --target kubernetes` on
// kube-prometheus (trimmed to what the v1.20 test server serves): its first apply and the idle
// rounds after it stay within the 256 MiB per agent docs/fleet.md tells fleets to budget (198 MiB
// measured; it was 414 MiB before issue 19). Issue 19's goal, 150 MiB, is not met yet: it lives in
// bench/k8s-agent.bench.ts, which prints it beside the figure. The CLI process as a user runs it, a real registry with the
// promoted bundle, the real API server; peak = the process's VmHWM after the rounds.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startKubernetes, writeKubeconfig, type KubeServer } from '../harness/kubernetes.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { agentArgs, kubePrometheusProject, reconciledRounds, spawnMeasured, startAgentRound } from './kube-prometheus-agent.ts';

const PEAK_MIB = 256;
const ROUNDS = 3;

let kube: KubeServer;
let registry: RegistryServer;
let base: string;
before(async () => {
  [kube, registry] = await Promise.all([startKubernetes(), startRegistry()]);
  base = await mkdtemp(join(tmpdir(), 'promote-agent-memory-'));
});
after(async () => {
  await registry?.stop();
  await kube?.stop();
  if (base) await rm(base, { recursive: true, force: true });
});

describe('promote agent on kube-prometheus: memory (CLI, real registry, real API server)', () => {
  it(`a long-running agent peaks at ≤ ${PEAK_MIB} MiB over its first apply and ${ROUNDS - 1} idle rounds`, { timeout: 180_000 }, async () => {
    const { p, bundle } = await kubePrometheusProject(base, registry.host);
    const kubeconfig = await writeKubeconfig(kube, join(base, 'kubeconfig'));
    const { proc: agent } = await startAgentRound(() => spawnMeasured(process.execPath, agentArgs(p, kubeconfig, join(base, 'cache'), ['--interval', '1s']), { cwd: p.dir, env: p.env }), 150_000);
    let peak: number;
    try {
      await agent.rounds(ROUNDS, 150_000);
      peak = agent.peakMiB();
    } finally {
      await agent.stop();
    }
    const rounds = reconciledRounds(agent.stderrLines);
    // It did apply kube-prometheus (Degraded: nothing runs without a kubelet), then stayed idle.
    assert.equal(rounds[0]!.bundle, bundle);
    assert.deepEqual(rounds.map((r) => r.phase), Array(rounds.length).fill('Degraded'));
    assert.equal((await kube.api('GET', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions/prometheuses.monitoring.coreos.com')).status, 200);
    assert.equal((await kube.api('GET', '/apis/apps/v1/namespaces/monitoring/deployments/grafana')).status, 200);
    console.log(`# agent peak resident memory after ${rounds.length} rounds on kube-prometheus: ${peak.toFixed(0)} MiB (goal ≤ ${PEAK_MIB})`);
    assert.ok(peak <= PEAK_MIB, `peak resident memory ${peak.toFixed(0)} MiB > ${PEAK_MIB} MiB after ${rounds.length} rounds`);
  });
});
