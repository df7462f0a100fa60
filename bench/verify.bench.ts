// Verification cost (issue 3): latency of one verify per bundle (fresh client), the registry
// request count of one verify (target: ≤ 3 when the signature exists), measured side by side in one run against the
// floor — the same three HTTP round trips done bare with fetch — and, for the CLI, against the
// process start-up floor (`promote --version`). A real registry from the test harness.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HttpRegistry } from '../src/oci/http-registry.ts';
import { EMPTY_JSON, EMPTY_JSON_DIGEST, MANIFEST_ACCEPT, OCI_EMPTY, OCI_MANIFEST } from '../src/oci/media-types.ts';
import { parseReference, type RegistryReference } from '../src/oci/reference.ts';
import { signatureTag, signBundle } from '../src/signing/cosign-signature.ts';
import { parseVerificationKey } from '../src/signing/keys.ts';
import { verifyBundle, type TrustPolicy } from '../src/signing/policy.ts';
import { LocalKeySigner } from '../src/signing/signer.ts';
import { startRegistry } from '../test/harness/registry.ts';

const bin = fileURLToPath(new URL('../bin/promote.js', import.meta.url));
const bundles = Number(process.env.BENCH_BUNDLES ?? 20);
const rounds = Number(process.env.BENCH_RUNS ?? 5);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t0 = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'promote-verify-bench-'));
  const reg = await startRegistry();
  try {
    const options = { insecure: true, env: {}, dockerConfig: join(dir, 'no-docker-config.json') };
    const open = () => new HttpRegistry(parseReference(`${reg.host}/bench/verify`) as RegistryReference, options);
    const setup = open();
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const signer = new LocalKeySigner(privateKey);
    const policy: TrustPolicy = { keys: [parseVerificationKey(signer.publicKeyPem, 'ci.pub')], identities: [] };
    await writeFile(join(dir, 'ci.pub'), signer.publicKeyPem);
    await setup.pushBlob({ mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 }, EMPTY_JSON);
    const tags: { tag: string; digest: string }[] = [];
    for (let i = 0; i < bundles; i++) {
      const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, artifactType: 'application/vnd.promote.bundle.v1', config: { mediaType: OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: 2 }, layers: [], annotations: { n: String(i) } }));
      const d = await setup.pushManifest(manifest, OCI_MANIFEST, `v${i}`);
      await signBundle(setup, d.digest, signer, `${reg.host}/bench/verify`);
      tags.push({ tag: `v${i}`, digest: d.digest });
    }

    // Request count of one cold verify by tag (resolve + verify), from the registry's access log.
    await reg.clearRequests();
    {
      const r = open();
      const d = await r.resolve('v0');
      await verifyBundle(r, d!.digest, policy);
    }
    const coldRequests = await reg.requests();

    const cold: number[] = [];
    const bare: number[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const { tag, digest } of tags) {
        // Interleaved so drift hits both alike.
        bare.push(await time(async () => {
          const base = `${reg.url}/v2/bench/verify`;
          const accept = MANIFEST_ACCEPT.join(', ');
          await fetch(`${base}/manifests/${tag}`, { method: 'HEAD', headers: { accept } });
          const sig = await (await fetch(`${base}/manifests/${signatureTag(digest)}`, { headers: { accept } })).json() as { layers: { digest: string }[] };
          await (await fetch(`${base}/blobs/${sig.layers[0]!.digest}`)).arrayBuffer();
        }));
        cold.push(await time(async () => {
          const r = open();
          const d = await r.resolve(tag);
          await verifyBundle(r, d!.digest, policy);
        }));
      }
    }

    const cliRuns = Math.max(3, rounds);
    const cli: number[] = [];
    const startup: number[] = [];
    for (let i = 0; i < cliRuns; i++) {
      startup.push(await time(async () => spawnSync(process.execPath, [bin, '--version'], { stdio: 'ignore' })));
      cli.push(await time(async () => {
        const r = spawnSync(process.execPath, [bin, 'verify', `${reg.host}/bench/verify:v${i % bundles}`, '--key', join(dir, 'ci.pub'), '--insecure'], { encoding: 'utf8', env: { ...process.env, DOCKER_CONFIG: dir } });
        if (r.status !== 0) throw new Error(`promote verify failed: ${r.stderr}`);
      }));
    }

    const floor = median(bare);
    const rows: [string, string, string, string][] = [
      ['bare HTTP: HEAD tag + GET .sig + GET payload (floor)', median(bare).toFixed(2), '1.00×', ''],
      ['verifyBundle (new client, resolve tag)', median(cold).toFixed(2), `${(median(cold) / floor).toFixed(2)}×`, ''],
      ['promote --version (process start-up floor)', median(startup).toFixed(1), '', ''],
      ['promote verify <tag> --key (CLI, whole process)', median(cli).toFixed(1), `${(median(cli) / median(startup)).toFixed(2)}× start-up`, ''],
    ];
    console.log(`verify latency per bundle: ${bundles} signed bundles × ${rounds} rounds, medians in ms`);
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [name, ms, ratio] of rows) console.log(`  ${name.padEnd(w)}  ${ms.padStart(8)} ms  ${ratio}`);
    const show = (es: { method: string; path: string; status: number }[]) => es.map((e) => `${e.method} ${e.path.replace(/sha256[-:][0-9a-f]{64}/g, (m) => `${m.slice(0, 13)}…`)} ${e.status}`).join(', ');
    console.log(`requests, one cold verify of a signed tag: ${coldRequests.length} (target ≤ 3) ${coldRequests.length <= 3 ? 'OK' : 'OVER'}: ${show(coldRequests)}`);
    if (coldRequests.length > 3) process.exitCode = 1;
  } finally {
    await reg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
