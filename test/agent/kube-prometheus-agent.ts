// kube-prometheus as a promoted bundle for the real CLI agent, and kubectl beside it, on the test
// API server (v1.20) through the request counter: what the k8s bench and the memory test share.
// Peak memory is the process's VmHWM (/proc/<pid>/status), sampled while it runs: it only grows,
// so the last sample before exit misses at most one sampling interval's growth.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RenderedFile } from '../../src/agent/target.ts';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { createProject, FIXTURE as SMALL_BUNDLE, type TestProject } from '../promotion/project.ts';
import { filesFromDir, forKubernetes120 } from './desired.ts';

export const KUBE_PROMETHEUS = fileURLToPath(new URL('../fixtures/kube-prometheus/manifests', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/promote.js', import.meta.url));

/** API versions of kube-prometheus that the v1.20 test server does not serve. */
const NOT_SERVED_BY_120 = new Set(['policy/v1']);

/**
 * kube-prometheus as the v1.20 test server can take it: forKubernetes120's schema trims, and
 * without the documents of API versions it does not serve (the PodDisruptionBudgets, policy/v1).
 */
export async function kubePrometheus120(): Promise<{ files: RenderedFile[]; objects: number }> {
  const files = forKubernetes120(await filesFromDir(KUBE_PROMETHEUS))
    .map((f) => ({ ...f, documents: (f.documents ?? []).filter((d) => d && !NOT_SERVED_BY_120.has((d as { apiVersion?: string }).apiVersion ?? '')) }))
    .filter((f) => f.documents.length > 0)
    .map((f) => ({ ...f, content: Buffer.from(f.documents.map((d) => JSON.stringify(d)).join('\n---\n')) }));
  const objects = files.flatMap((f) => f.documents).reduce<number>((n, d) => n + (Array.isArray((d as { items?: unknown[] }).items) ? (d as { items: unknown[] }).items.length : 1), 0);
  return { files, objects };
}

/** Writes `files` as YAML (JSON documents) under `dir`, flat: what `kubectl apply -f dir` reads. */
export async function writeManifests(files: RenderedFile[], dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const f of files) await writeFile(join(dir, f.path.replace(/\//g, '_')), f.content ?? Buffer.alloc(0));
  return dir;
}

/**
 * A test project whose bundle is kube-prometheus (trimmed for v1.20, Secrets allowed as the
 * upstream ships them), pushed, signed and promoted to dev (cluster dev-1).
 */
export async function kubePrometheusProject(base: string, registryHost: string): Promise<{ p: TestProject; bundle: string }> {
  const fixture = join(base, 'kp-bundle');
  await cp(SMALL_BUNDLE, fixture, { recursive: true });
  await writeFile(join(fixture, 'bundle.yaml'), 'apiVersion: promote/v1\nkind: Bundle\nmetadata:\n  name: kube-prometheus\nspec:\n  parameters: params.schema.json\n  manifests: manifests/\n  files: files/\n  allowSecrets: true\n');
  const manifests = join(fixture, 'manifests');
  await rm(manifests, { recursive: true, force: true });
  await writeManifests((await kubePrometheus120()).files, manifests);
  const p = await createProject(join(base, 'p'), registryHost, { name: 'kp', fixture });
  const bundle = await p.push(1);
  const engine = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(base, 'engine-cache') });
  await promoteTo(engine, { stage: 'dev', bundle });
  return { p, bundle };
}

/** The CLI agent's arguments for dev-1 on `kubeconfig` (health not waited for: kubectl does not wait either). */
export function agentArgs(p: TestProject, kubeconfig: string, cacheDir: string, extra: string[]): string[] {
  return [BIN, 'agent', '--stage', 'dev', '--cluster', 'dev-1', '--target', 'kubernetes', '--kubeconfig', kubeconfig,
    '--health-timeout', '0s', '--key', p.promoterKeyFile, '--insecure', '--cache-dir', cacheDir, ...extra];
}

function vmHwmKiB(pid: number): number | undefined {
  try {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface MeasuredProcess {
  pid: number;
  /** Peak resident memory so far (VmHWM), MiB. */
  peakMiB(): number;
  /** Lines of stderr so far. */
  stderrLines: string[];
  stdout(): string;
  /** Resolves with `n` once stderr has `n` JSON log lines with msg `reconciled`. */
  rounds(n: number, timeoutMs: number): Promise<void>;
  /** Exit code (null when killed), wall ms from spawn. */
  exited: Promise<{ code: number | null; wallMs: number }>;
  stop(): Promise<void>;
}

/** Spawns `command` and samples its VmHWM every `sampleMs` until it exits. */
export function spawnMeasured(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; sampleMs?: number } = {}): MeasuredProcess {
  const t0 = performance.now();
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const pid = child.pid!;
  let peak = 0;
  const sample = (): void => {
    const v = vmHwmKiB(pid);
    if (v !== undefined && v > peak) peak = v;
  };
  const timer = setInterval(sample, options.sampleMs ?? 20);
  sample();
  let out = '';
  let err = '';
  const stderrLines: string[] = [];
  let reconciled = 0;
  const waiters: { n: number; resolve: () => void }[] = [];
  child.stdout.on('data', (c: Buffer) => { out += c.toString('utf8'); });
  child.stderr.on('data', (c: Buffer) => {
    sample();
    err += c.toString('utf8');
    let nl: number;
    while ((nl = err.indexOf('\n')) >= 0) {
      const line = err.slice(0, nl);
      err = err.slice(nl + 1);
      stderrLines.push(line);
      if (/"msg":"reconciled"/.test(line)) reconciled++;
    }
    for (const w of waiters.splice(0)) (reconciled >= w.n ? w.resolve() : waiters.push(w));
  });
  const exited = new Promise<{ code: number | null; wallMs: number }>((resolve) => {
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve({ code, wallMs: performance.now() - t0 });
    });
  });
  return {
    pid,
    peakMiB: () => {
      sample();
      return peak / 1024;
    },
    stderrLines,
    stdout: () => out,
    rounds: (n, timeoutMs) => new Promise<void>((resolve, reject) => {
      if (reconciled >= n) return resolve();
      const t = setTimeout(() => reject(new Error(`${n} rounds not done within ${timeoutMs} ms (${reconciled} done); stderr: ${stderrLines.slice(-5).join('\n')}`)), timeoutMs);
      waiters.push({ n, resolve: () => { clearTimeout(t); resolve(); } });
      void exited.then(() => { if (reconciled < n) { clearTimeout(t); reject(new Error(`exited after ${reconciled} of ${n} rounds: ${stderrLines.slice(-5).join('\n')}`)); } });
    }),
    exited,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The `reconciled` log lines of an agent so far, parsed. */
export function reconciledRounds(lines: string[]): { phase: string; reason?: string; message?: string; bundle?: string; durationMs: number }[] {
  return lines.filter((l) => l.includes('"msg":"reconciled"')).map((l) => JSON.parse(l));
}

/**
 * Starts an agent and waits for its first round; restarts it (at most 5 times, 1 s apart) when
 * that round could not reach the registry at all: under heavy load the registry client's
 * --insecure scheme probe (src/oci/http/probe-scheme.ts) has been seen to pick HTTPS for the
 * plain-HTTP test registry ("wrong version number", within 0.3 s: not its 5 s timeout; cause not
 * found). That round touches no cluster and measures nothing.
 */
export async function startAgentRound(start: () => MeasuredProcess, timeoutMs: number): Promise<{ proc: MeasuredProcess; restarts: number }> {
  for (let restarts = 0; ; restarts++) {
    const proc = start();
    await proc.rounds(1, timeoutMs);
    const first = reconciledRounds(proc.stderrLines)[0]!;
    if (restarts < 5 && first.phase === 'Failed' && /registry unreachable/.test(first.message ?? '')) {
      await proc.stop();
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    return { proc, restarts };
  }
}
