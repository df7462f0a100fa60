import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

// bench/fleet.bench.ts at a small size (10 agents, 500 ms interval), so the bench cannot rot and
// the fleet's request counts stay what docs/fleet.md says: an idle round is the one GET of the
// record tag, a changed round 10 requests, and the fleet's reports never touch the referrers index.

const BENCH = fileURLToPath(new URL('../../bench/fleet.bench.ts', import.meta.url));

interface Figures {
  clusters: number;
  converge: { ms: number; promoteMs: number; requestsPerAgent: number; registryCpuMs: number; byKind: Record<string, number> };
  idle: { requests: number; requestsPerAgentPerInterval: number; byKind: Record<string, number> };
  changedRound: { requests: number; byKind: Record<string, number> };
  idleRound: { requests: number; byKind: Record<string, number> };
  floors: { heads: { ms: number }; gets: { ms: number } };
}

function runBench(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BENCH], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c; });
    child.stderr.on('data', (c: Buffer) => { stderr += c; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('the fleet bench at 10 clusters: every agent converges, an idle fleet costs one record-tag GET per agent per interval, a changed round 10 requests', { timeout: 120_000 }, async () => {
  const run = await runBench({ BENCH_FLEET_CLUSTERS: '10', BENCH_FLEET_INTERVAL: '500ms', BENCH_FLEET_IDLE_INTERVALS: '4', BENCH_FLEET_OUTPUT: 'json' });
  assert.equal(run.code, 0, run.stderr);
  const f = JSON.parse(run.stdout) as Figures;
  assert.equal(f.clusters, 10);
  // The bench returns only once all 10 reported Converged on the new record.
  assert.ok(f.converge.ms >= f.converge.promoteMs && f.converge.requestsPerAgent > 0);
  // The promotion adds its record to the bundle's referrers index; no agent's report touches it.
  assert.equal(f.converge.byKind['PUT referrers index'], 1, 'only the record is added to the index');

  assert.deepEqual(Object.keys(f.idle.byKind), ['GET record tag'], 'an idle fleet only checks the record tag');
  // Rounds are an interval apart plus their own duration: at most one per interval, and about one.
  assert.ok(f.idle.requestsPerAgentPerInterval <= 1.25 && f.idle.requestsPerAgentPerInterval >= 0.5, `requests per agent per interval: ${f.idle.requestsPerAgentPerInterval}`);
  assert.deepEqual(f.idleRound, { requests: 1, byKind: { 'GET record tag': 1 } });

  assert.deepEqual(f.changedRound.byKind, {
    'GET blob': 4, // the record's statement, the bundle's signature payload, its config, its content
    'GET manifest by digest': 1, // the bundle, once for the signature check and the pull
    'GET record tag': 1, // the record's manifest: the bytes the tag GET returned are verified
    'GET signature tag': 1,
    'POST blob upload': 1, // the report's statement, uploaded without a HEAD first
    'PUT blob upload': 1,
    'PUT status tag': 1,
  });
  assert.equal(f.changedRound.requests, 10);
  assert.ok(f.floors.heads.ms > 0 && f.floors.gets.ms > 0);
});
