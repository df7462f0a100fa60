import { createServer, type Server } from 'node:http';
import { PromoteError } from '../errors.ts';
import { redactDeep } from '../redact.ts';
import { STATUS_PHASES } from '../records/status-report.ts';
import type { AgentPhase, AgentStatus, Reconciler, RoundResult } from './reconcile.ts';

// The agent's main loop: a round every interval, exponential backoff while rounds fail, and a
// small HTTP endpoint for the kubelet and Prometheus (/healthz, /readyz, /metrics). Logs are
// JSON objects, one per round and per notable event (what log shippers expect), handed to the
// caller's `log` redacted; the CLI writes them to stderr, one per line.

export interface AgentLoopOptions {
  reconciler: Reconciler;
  owner: { pipeline: string; stage: string; cluster: string };
  intervalMs: number;
  /** Ceiling of the backoff after failed rounds (default 5 min). */
  maxBackoffMs?: number;
  /**
   * /healthz turns 503 once a round has been running this long (default: 3 × interval, at least
   * 10 min, so a round waiting out its health timeout or a slow download is not killed).
   */
  stallAfterMs?: number;
  /** One round, then return. */
  once?: boolean;
  /** Serve /healthz, /readyz and /metrics here (port 0 picks one). */
  listen?: { host: string; port: number };
  /** Receives each log entry (already redacted). */
  log: (entry: Record<string, unknown>) => void;
  signal?: AbortSignal;
  /** Called when the HTTP server listens, with its address (tests, logs). */
  onListening?: (address: { host: string; port: number }) => void;
}

const PHASES: readonly AgentPhase[] = STATUS_PHASES;
const BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300];

/** The agent's counters and gauges, rendered in the Prometheus text format 0.0.4. */
export class AgentMetrics {
  rounds = { success: 0, failure: 0 };
  durations: number[] = new Array(BUCKETS.length).fill(0);
  durationSum = 0;
  durationCount = 0;
  phase: AgentPhase | undefined;
  lastSuccess = 0;
  driftCorrections = 0;
  writes = 0;
  private readonly labels: string;

  constructor(owner: { pipeline: string; stage: string; cluster: string }) {
    const esc = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
    this.labels = `pipeline="${esc(owner.pipeline)}",stage="${esc(owner.stage)}",cluster="${esc(owner.cluster)}"`;
  }

  observe(result: RoundResult, seconds: number): void {
    const ok = result.status.phase === 'Converged';
    if (ok) {
      this.rounds.success++;
      this.lastSuccess = Date.parse(result.status.observedAt) / 1000;
    } else this.rounds.failure++;
    BUCKETS.forEach((b, i) => {
      if (seconds <= b) this.durations[i]!++;
    });
    this.durationSum += seconds;
    this.durationCount++;
    this.phase = result.status.phase;
    this.driftCorrections += result.driftCorrected;
    this.writes += result.writes;
  }

  render(): string {
    const l = this.labels;
    const out: string[] = [];
    out.push('# HELP promote_agent_reconcile_total Reconcile rounds, by whether they ended Converged.');
    out.push('# TYPE promote_agent_reconcile_total counter');
    out.push(`promote_agent_reconcile_total{${l},result="success"} ${this.rounds.success}`);
    out.push(`promote_agent_reconcile_total{${l},result="failure"} ${this.rounds.failure}`);
    out.push('# HELP promote_agent_reconcile_duration_seconds Duration of reconcile rounds.');
    out.push('# TYPE promote_agent_reconcile_duration_seconds histogram');
    BUCKETS.forEach((b, i) => out.push(`promote_agent_reconcile_duration_seconds_bucket{${l},le="${b}"} ${this.durations[i]}`));
    out.push(`promote_agent_reconcile_duration_seconds_bucket{${l},le="+Inf"} ${this.durationCount}`);
    out.push(`promote_agent_reconcile_duration_seconds_sum{${l}} ${this.durationSum}`);
    out.push(`promote_agent_reconcile_duration_seconds_count{${l}} ${this.durationCount}`);
    out.push('# HELP promote_agent_phase The phase of the last round (1 for the current phase).');
    out.push('# TYPE promote_agent_phase gauge');
    for (const p of PHASES) out.push(`promote_agent_phase{${l},phase="${p}"} ${this.phase === p ? 1 : 0}`);
    out.push('# HELP promote_agent_last_success_timestamp_seconds When a round last ended Converged.');
    out.push('# TYPE promote_agent_last_success_timestamp_seconds gauge');
    out.push(`promote_agent_last_success_timestamp_seconds{${l}} ${this.lastSuccess}`);
    out.push('# HELP promote_agent_drift_corrections_total Objects restored after drift.');
    out.push('# TYPE promote_agent_drift_corrections_total counter');
    out.push(`promote_agent_drift_corrections_total{${l}} ${this.driftCorrections}`);
    out.push('# HELP promote_agent_target_writes_total Writes to the target (files, mutating API requests).');
    out.push('# TYPE promote_agent_target_writes_total counter');
    out.push(`promote_agent_target_writes_total{${l}} ${this.writes}`);
    return `${out.join('\n')}\n`;
  }
}

/** Delay before the next round after `failures` failed rounds in a row. */
export function nextDelay(intervalMs: number, failures: number, maxBackoffMs = 300_000): number {
  if (failures <= 0) return intervalMs;
  return Math.min(Math.max(intervalMs, 1000) * 2 ** Math.min(failures, 20), Math.max(maxBackoffMs, intervalMs));
}

interface LoopState {
  ready: boolean;
  /** When the running round started; 0 between rounds (waiting, backing off). */
  roundStartedAt: number;
  status?: AgentStatus;
}

export function stallAfter(options: Pick<AgentLoopOptions, 'intervalMs' | 'stallAfterMs'>): number {
  return options.stallAfterMs ?? Math.max(3 * options.intervalMs, 600_000);
}

function startServer(options: AgentLoopOptions, metrics: AgentMetrics, state: LoopState): Promise<Server> {
  const limit = stallAfter(options);
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      // Alive while rounds keep finishing. Time between rounds is the loop's own choice (interval,
      // backoff) and never counts; a round that does not end — the first one included — does.
      const running = state.roundStartedAt > 0 ? Date.now() - state.roundStartedAt : 0;
      const stalled = running > limit;
      res.writeHead(stalled ? 503 : 200, { 'content-type': 'text/plain' }).end(stalled ? `reconcile loop stalled: the current round has been running for ${Math.round(running / 1000)} s (limit ${Math.round(limit / 1000)} s)\n` : 'ok\n');
    } else if (path === '/readyz') {
      res.writeHead(state.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(state.ready ? `ok ${state.status?.phase ?? ''}\n` : 'first round not finished\n');
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics.render());
    } else if (path === '/status') {
      res.writeHead(state.status ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(state.status ?? null));
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /healthz, /readyz, /metrics, /status\n');
    }
  });
  const { host, port } = options.listen!;
  return new Promise((resolve, reject) => {
    server.once('error', (err) =>
      reject(new PromoteError('AGENT_LISTEN_FAILED', `cannot serve metrics on ${host}:${port}: ${err.message}`, { cause: err, hint: 'pick a free port with --metrics-address host:port, or :0 for any' })),
    );
    server.listen(port, host, () => {
      const a = server.address() as { port: number };
      options.onListening?.({ host, port: a.port });
      resolve(server);
    });
  });
}

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

/** Runs rounds until `signal` aborts (or once); returns the last status. */
export async function runAgentLoop(options: AgentLoopOptions): Promise<AgentStatus | undefined> {
  // Entries carry messages built from registry and git answers: no credential leaves in them.
  const log = (entry: Record<string, unknown>): void => options.log(redactDeep(entry));
  const metrics = new AgentMetrics(options.owner);
  const state: LoopState = { ready: false, roundStartedAt: 0 };
  const server = options.listen ? await startServer(options, metrics, state) : undefined;
  let failures = 0;
  try {
    for (;;) {
      const started = process.hrtime.bigint();
      state.roundStartedAt = Date.now();
      const result = await options.reconciler.round();
      state.roundStartedAt = 0;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observe(result, seconds);
      state.status = result.status;
      state.ready = true;
      const s = result.status;
      const bad = s.phase === 'Failed' || s.phase === 'Refused' || result.error !== undefined;
      failures = bad ? failures + 1 : 0;
      log({
        time: s.observedAt,
        level: bad ? 'error' : s.phase === 'Converged' ? 'info' : 'warn',
        msg: 'reconciled',
        pipeline: s.pipeline,
        stage: s.stage,
        cluster: s.cluster,
        phase: s.phase,
        reason: s.reason,
        message: s.message,
        record: s.record,
        bundle: s.bundle,
        changed: result.changed,
        writes: result.writes,
        driftCorrected: result.driftCorrected,
        reported: result.reported,
        durationMs: Math.round(seconds * 1000),
      });
      if (options.once || options.signal?.aborted) return s;
      const delay = nextDelay(options.intervalMs, failures, options.maxBackoffMs);
      if (failures > 0) log({ time: new Date().toISOString(), level: 'info', msg: 'backing off', failures, nextRoundInMs: delay });
      await sleep(delay, options.signal);
      if (options.signal?.aborted) return s;
    }
  } finally {
    if (server) {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  }
}
