// Helm and kustomize bundles through the whole flow with every real part (issue 15 "Done
// when"): built, pushed to a real registry, cosign-signed, promoted by the engine with a signed
// record, then verified, rendered by the real helm / kustomize binary and applied by the agent
// onto the dir target, with its status report read back by the gates. The same verification as
// a plain bundle: a bundle signed by nobody trusted is refused and nothing is applied.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { readStatusReport } from '../../src/records/status-report.ts';
import { loadPipelineTrust } from '../../src/signing/policy.ts';
import { signAndAttach, statement } from '../../src/signing/attestation.ts';
import { PROMOTION_RECORD } from '../../src/oci/media-types.ts';
import { PROMOTION_PREDICATE_TYPE, verifyRecord } from '../../src/records/promotion-record.ts';
import { agentOnce } from '../agent/agent-once.ts';
import { renderTools, renderToolsEnv } from '../harness/render-tools.ts';
import { startRegistry, type RegistryServer } from '../harness/registry.ts';
import { createProject, type TestProject } from './project.ts';

const FIXTURES = {
  helm: fileURLToPath(new URL('../fixtures/helm-small', import.meta.url)),
  kustomize: fileURLToPath(new URL('../fixtures/kustomize-small', import.meta.url)),
};

let registry: RegistryServer;
let base: string;
let tools: Awaited<ReturnType<typeof renderTools>>;
before(async () => {
  [registry, tools] = await Promise.all([startRegistry(), renderTools()]);
  base = await mkdtemp(join(tmpdir(), 'promote-renderers-e2e-'));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

async function listFiles(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

async function project(kind: keyof typeof FIXTURES, name = 'flow'): Promise<TestProject> {
  const p = await createProject(join(base, kind, name), registry.host, { name: `${kind}-${name}`, fixture: FIXTURES[kind] });
  // The binaries the engine (plan's diff) and the agent run; nothing else in the environment names them.
  Object.assign(p.env, renderToolsEnv(tools));
  return p;
}

const expected = {
  helm: ['.promote-inventory.json', 'chart/templates/deployment.yaml', 'chart/templates/service.yaml', 'files/notes.txt', 'files/variant.txt'],
  kustomize: ['.promote-inventory.json', 'files/notes.txt', 'files/variant.txt'],
};

describe('helm and kustomize bundles: build → sign → push → promote → agent (real registry, real binaries)', () => {
  for (const kind of ['helm', 'kustomize'] as const) {
    it(`${kind}: the agent verifies, renders with the real binary, converges the dir target and reports which renderer it ran`, async () => {
      const p = await project(kind);
      const out = join(base, `${kind}-target`);
      const d1 = await p.push(1);
      const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(p.dir, '..', 'engine-cache') });
      await promoteTo(eng, { stage: 'dev', bundle: d1 });

      const status = await agentOnce(p, out);
      assert.equal(status?.phase, 'Converged', status?.message);
      assert.equal(status?.bundle, d1);
      const files = await listFiles(out);
      for (const f of expected[kind]) assert.ok(files.includes(f), `${f} in ${files.join(', ')}`);
      const manifests = (await Promise.all(files.filter((f) => f.endsWith('.yaml')).map((f) => readFile(join(out, f), 'utf8')))).join('\n---\n');
      // The environment's parameters and the built-in stage reached the renderer.
      assert.match(manifests, /kind: Deployment[\s\S]*namespace: dev/);
      assert.match(manifests, /replicas: 1\b/);
      assert.match(manifests, /promote\.dev\/stage: "?dev"?/);
      if (kind === 'kustomize') assert.match(manifests, /name: hello-config-[a-z0-9]{10}\b/, 'kustomize name-hash suffix');
      assert.equal(await readFile(join(out, 'files/notes.txt'), 'utf8'), 'shipped verbatim\n');

      const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
      const report = await readStatusReport(p.registry, 'dev', 'dev-1', trust.promotions);
      assert.equal(report?.phase, 'Converged');
    });

    it(`${kind}: attack — a validly signed record naming a bundle nobody trusted signed is refused before any renderer runs; nothing is applied`, async () => {
      const p = await project(kind, 'attack');
      const out = join(base, `${kind}-attack-target`);
      // The renderer binary, behind a wrapper that leaves a mark each time it runs.
      const marks = join(base, `${kind}-renderer-runs`);
      // Named as the tool is: a PROMOTE_KUSTOMIZE called kubectl is run as `kubectl kustomize`.
      const wrapper = join(base, `${kind}-bin`, kind === 'helm' ? 'helm' : 'kubectl');
      await mkdir(dirname(wrapper));
      await writeFile(wrapper, `#!/bin/sh\necho run >> ${marks}\nexec ${kind === 'helm' ? tools.helm : tools.kubectl} "$@"\n`, { mode: 0o755 });
      Object.assign(p.env, kind === 'helm' ? { PROMOTE_HELM: wrapper } : { PROMOTE_KUSTOMIZE: wrapper });
      const good = await p.push(1);
      const eng = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(p.dir, '..', 'engine-cache') });
      await promoteTo(eng, { stage: 'dev', bundle: good });
      assert.equal((await agentOnce(p, out))?.phase, 'Converged');
      const applied = await listFiles(out);
      const ranBefore = (await readFile(marks, 'utf8')).split('\n').filter(Boolean).length;
      assert.ok(ranBefore > 0, 'the wrapper is the binary the agent runs');

      // The attacker holds the promoter's key but not CI's: the bundle is signed by a stranger.
      const bad = await p.push(2, p.stranger);
      const trust = await loadPipelineTrust({ bundles: ['keys/ci.pub'], promotions: ['keys/promoter.pub'] }, { baseDir: p.dir });
      const real = await verifyRecord(p.registry, 'promotion-dev', trust.promotions);
      const predicate = { ...real.statement.predicate, bundle: { ...(real.statement.predicate as { bundle: object }).bundle, digest: bad }, sequence: (real.statement.predicate as { sequence: number }).sequence + 1 };
      const subject = (await p.registry.resolve(bad))!;
      await signAndAttach(p.registry, subject, statement({ name: p.repository, digest: bad }, PROMOTION_PREDICATE_TYPE, predicate), p.promoter, { artifactType: PROMOTION_RECORD, tag: 'promotion-dev' });

      const status = await agentOnce(p, out);
      assert.equal(status?.phase, 'Refused', status?.message);
      assert.match(status?.message ?? '', /signature|signed|trust/i);
      assert.deepEqual(await listFiles(out), applied, 'nothing applied');
      assert.equal((await readFile(marks, 'utf8')).split('\n').filter(Boolean).length, ranBefore, 'the renderer never ran on the untrusted bundle');
    });
  }
});
