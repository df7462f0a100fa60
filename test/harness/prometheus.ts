// Test harness: a real Prometheus (Debian's `prometheus`, 2.42) on 127.0.0.1 with a free port and
// a temp config and TSDB, scraping a tiny exporter the test controls (a node:http server on
// 127.0.0.1 serving the text exposition format, its values set by the test) every second. Never
// the packaged /etc/prometheus/prometheus.yml or service: they bind every interface and scrape
// the machine. `startPrometheus` returns once Prometheus is ready and has scraped the exporter.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort, trackServer, type ServerProcess } from './process.ts';

export interface Exporter {
  /** `http://127.0.0.1:PORT/metrics`. */
  url: string;
  /** Sets a gauge's value for one label set (exported from the next scrape on). */
  set(name: string, value: number, labels?: Record<string, string>): void;
  /** Stops exporting a metric (every label set). */
  remove(name: string): void;
  /** Scrapes served so far. */
  scrapes(): number;
  /** Resolves once a scrape that started after this call has been served. */
  nextScrape(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface PrometheusServer {
  /** `http://127.0.0.1:PORT`: the HTTP API's base URL. */
  url: string;
  exporter: Exporter;
  /** An instant query through the HTTP API (`/api/v1/query`), for tests to see what Prometheus holds. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Polls `promql` until it returns a series (within `timeoutMs`): data has been ingested. */
  waitFor(promql: string, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

function fail(message: string): never {
  throw new Error(`prometheus harness: ${message}`);
}

function prometheusBinary(): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir && existsSync(join(dir, 'prometheus'))) return join(dir, 'prometheus');
  if (existsSync('/usr/bin/prometheus')) return '/usr/bin/prometheus';
  fail('`prometheus` is not installed; run `apt-get install -y prometheus`');
}

function get(url: string, timeoutMs = 2000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.setTimeout(timeoutMs, () => req.destroy(new Error('request timed out')));
    req.end();
  });
}

function labelText(labels: Record<string, string>): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b));
  // Exposition format: label values escape \, " and newline.
  return pairs.length ? `{${pairs.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}` : '';
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/** The tiny exporter: gauges whose values the test sets, in the text exposition format (0.0.4). */
export async function startExporter(): Promise<Exporter> {
  const gauges = new Map<string, Map<string, number>>();
  let served = 0;
  const waiters: { after: number; resolve: () => void }[] = [];
  const server: Server = createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    const lines: string[] = [];
    for (const [name, series] of gauges) {
      lines.push(`# TYPE ${name} gauge`);
      for (const [labels, value] of series) lines.push(`${name}${labels} ${formatValue(value)}`);
    }
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
    res.end(lines.join('\n') + '\n', () => {
      served++;
      for (let i = waiters.length - 1; i >= 0; i--) if (served > waiters[i]!.after) waiters.splice(i, 1)[0]!.resolve();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/metrics`,
    set(name, value, labels = {}) {
      let series = gauges.get(name);
      if (!series) gauges.set(name, (series = new Map()));
      series.set(labelText(labels), value);
    },
    remove(name) {
      gauges.delete(name);
    },
    scrapes: () => served,
    nextScrape(timeoutMs = 10_000) {
      // A scrape already in flight may have rendered the old values: wait for the one after it.
      const after = served + 1;
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`prometheus harness: no scrape within ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ after, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * Starts Prometheus scraping `opts.exporter` (started here when not given; stopped with it). A
 * test that sets its values before this call has them from the first scrape, ~5 s after start
 * (the discovery manager's first update), instead of waiting for more scrapes afterwards.
 */
export async function startPrometheus(opts: { scrapeInterval?: string; exporter?: Exporter } = {}): Promise<PrometheusServer> {
  const binary = prometheusBinary();
  const interval = opts.scrapeInterval ?? '1s';
  const dir = await mkdtemp(join(tmpdir(), 'promote-prometheus-'));
  const exporter = opts.exporter ?? (await startExporter());
  let server: ServerProcess | undefined;
  const cleanup = async () => {
    await exporter.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const target = new URL(exporter.url).host;
    await mkdir(join(dir, 'data'));
    const config = join(dir, 'prometheus.yml');
    await writeFile(config, [
      'global:',
      `  scrape_interval: ${interval}`,
      `  scrape_timeout: ${interval}`,
      `  evaluation_interval: ${interval}`,
      'scrape_configs:',
      '  - job_name: exporter',
      `    static_configs: [{targets: [${JSON.stringify(target)}]}]`,
      '',
    ].join('\n'));
    const proc = trackServer(spawn(binary, [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] }));
    server = proc;

    const deadline = Date.now() + 20_000;
    for (;;) {
      if (proc.exited()) fail(`prometheus exited during start-up:\n${proc.stderrTail()}`);
      const ready = await get(`${url}/-/ready`).then((r) => r.status === 200, () => false);
      if (ready) break;
      if (Date.now() > deadline) fail(`prometheus was not ready on ${url} within 20 s:\n${proc.stderrTail()}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    const query: PrometheusServer['query'] = async (promql) => {
      const r = await get(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`);
      const doc = JSON.parse(r.body) as { status: string; error?: string; data?: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      if (doc.status !== 'success') fail(`query ${promql}: ${doc.error ?? r.body}`);
      return doc.data!.result;
    };
    const waitFor: PrometheusServer['waitFor'] = async (promql, timeoutMs = 15_000) => {
      const until = Date.now() + timeoutMs;
      for (;;) {
        if ((await query(promql)).length) return;
        if (proc.exited()) fail(`prometheus exited:\n${proc.stderrTail()}`);
        if (Date.now() > until) fail(`${promql} returned nothing within ${timeoutMs} ms`);
        await new Promise((r) => setTimeout(r, 200));
      }
    };
    // Scraped and ingested: `up` of the exporter is 1.
    await waitFor('up{job="exporter"} == 1', 20_000);

    let stopped = false;
    server = undefined;
    return {
      url,
      exporter,
      query,
      waitFor,
      async stop() {
        if (stopped) return;
        stopped = true;
        // Prometheus shuts down its TSDB on SIGTERM, within a second.
        await proc.stop(5000);
        await cleanup();
      },
    };
  } catch (err) {
    await server?.kill();
    await cleanup();
    throw err;
  }
}
