// promote ui at fleet size (issue 18): a generated project whose staging environment has 1,000
// clusters, each with a signed status report in a real registry, served by the real CLI
// (`promote ui`); headless Chromium (Debian's) measures the page from navigation until the
// pipeline view is rendered (every stage column, the 1,000-cluster summary and its first page of
// cards). Goal: under 1 s. Also printed: how long the server takes to build the view it serves
// (status + plans over 1,000 reports: paid once, then only when the ledger or a report changes)
// and the size of /api/pipeline.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forEachConcurrently } from '../src/oci/concurrency.ts';
import { openProject } from '../src/promotion/project.ts';
import { promoteTo } from '../src/promotion/to.ts';
import { publishStatusReport, type StatusPhase } from '../src/records/status-report.ts';
import { openPage, startBrowser } from '../test/harness/browser.ts';
import { createProject } from '../test/promotion/project.ts';
import { serveUi } from '../test/ui/serve.ts';

const CLUSTERS = Number(process.env.BENCH_UI_CLUSTERS ?? 1000);
const SAMPLES = Number(process.env.BENCH_UI_SAMPLES ?? 7);
const GOAL_MS = 1000;

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const base = await mkdtemp(join(tmpdir(), 'promote-ui-bench-'));
  try {
    // The embedded default registry, an OCI layout: a registry without a referrers API keeps
    // one fallback index per bundle that every report rewrites, which makes publishing 1,000
    // reports about one bundle a contention test of its own instead of this bench's set-up.
    const p = await createProject(join(base, 'p'), `oci:${join(base, 'layout')}`, { name: 'ui-bench', agents: true });
    const names = Array.from({ length: CLUSTERS }, (_, i) => `staging-${String(i + 1).padStart(4, '0')}`);
    await writeFile(join(p.dir, 'environments', 'staging.yaml'), `apiVersion: promote/v1\nkind: Environment\nmetadata: {name: staging}\nspec:\n  parameters: {namespace: staging, replicas: 1}\n  clusters:\n${names.map((c) => `    - name: ${c}\n`).join('')}`);
    const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter });
    const d1 = await p.push(1);
    await promoteTo(eng, { stage: 'dev', bundle: d1 });
    await promoteTo(eng, { stage: 'staging', force: { reason: 'bench' } });
    // The reports: signed by the agents' key, published 8 at a time (each is two blob uploads
    // and a tagged manifest); a few clusters Degraded or Progressing so the view has groups.
    const desc = (await p.registry.resolve(d1))!;
    const at = new Date(Date.now() - 60_000).toISOString();
    let t = performance.now();
    await forEachConcurrently(names, 8, async (cluster) => {
      const i = Number(cluster.slice(-4));
      const phase: StatusPhase = i % 97 === 0 ? 'Degraded' : i % 31 === 0 ? 'Progressing' : 'Converged';
      await publishStatusReport(p.registry, { mediaType: desc.mediaType, digest: d1, size: desc.size }, { pipeline: 'webapp', stage: 'staging', cluster, phase, bundle: { repository: p.repository, digest: d1 }, since: at, observedAt: at }, p.agent);
    });
    console.log(`setup: ${CLUSTERS} signed status reports published in ${((performance.now() - t) / 1000).toFixed(1)} s`);

    t = performance.now();
    const ui = await serveUi(p.dir, p.env, ['--insecure', '--interval', '30s']);
    let view: Response;
    for (;;) {
      view = await fetch(new URL('/api/pipeline', ui.url));
      if (view.status !== 503) break;
    }
    const bytes = (await view.arrayBuffer()).byteLength;
    console.log(`server: view of ${CLUSTERS} clusters built in ${((performance.now() - t) / 1000).toFixed(1)} s (start-up included); /api/pipeline is ${(bytes / 1024).toFixed(0)} KiB`);

    const browser = await startBrowser();
    const samples: number[] = [];
    const inPage: number[] = [];
    try {
      for (let i = 0; i < SAMPLES + 1; i++) {
        const { page, errors } = await openPage(browser);
        const started = performance.now();
        await page.goto(ui.url);
        await page.waitForSelector(`section[data-stage=staging] .summary button[data-phase=Converged]`);
        await page.waitForSelector('section[data-stage=production] .waiting');
        const wall = performance.now() - started;
        const own = (await page.evaluate('performance.now()')) as number;
        const cards = await page.locator('section[data-stage=staging] article.cluster').count();
        if (errors.length) throw new Error(`the page logged errors: ${errors.join('; ')}`);
        if (i > 0) { samples.push(wall); inPage.push(own); } // the first warms the browser's cache of app.js
        else console.log(`staging column: ${cards} cluster cards drawn (a page), summary of ${CLUSTERS}`);
        await page.context().close();
      }
    } finally {
      await browser.close();
      await ui.stop();
    }
    const m = median(samples);
    console.log(`page render, navigation → pipeline view rendered (${SAMPLES} runs): median ${m.toFixed(0)} ms, max ${Math.max(...samples).toFixed(0)} ms; in-page performance.now() at that point: median ${median(inPage).toFixed(0)} ms`);
    console.log(`goal < ${GOAL_MS} ms: ${m < GOAL_MS ? 'met' : 'NOT met'}`);
    if (m >= GOAL_MS) process.exitCode = 1;
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

await main();
