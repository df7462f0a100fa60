import { cp, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

// Shared by the bundle and oci tests: temp dirs that clean themselves up, the small fixture
// bundle copied out of the repository (so git facts of this checkout do not leak into digests),
// and hand-crafted tar archives for the refusal tests.

export const FIXTURE = fileURLToPath(new URL('../fixtures/bundle-small', import.meta.url));
export const KUBE_PROMETHEUS = fileURLToPath(new URL('../fixtures/kube-prometheus/manifests', import.meta.url));
export const BIN = fileURLToPath(new URL('../../bin/promote.js', import.meta.url));

export interface TempDir {
  path: string;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function tempDir(prefix = 'promote-test-'): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, [Symbol.asyncDispose]: () => rm(path, { recursive: true, force: true }) };
}

/** A copy of the small fixture bundle at `<dir>/<name>`; returns its path. */
export async function copyFixture(dir: string, name = 'bundle'): Promise<string> {
  const dest = join(dir, name);
  await cp(FIXTURE, dest, { recursive: true });
  return dest;
}

/** An environment with no SOURCE_DATE_EPOCH and no git identity surprises. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...extra };
  return env;
}

export interface CraftedEntry {
  name: string;
  /** tar typeflag: '0' file, '5' dir, '1' hard link, '2' symlink, '3' char device, '6' FIFO. */
  type?: string;
  content?: string;
  linkname?: string;
  mode?: number;
  /** Claimed size in the header (default: the content's length). */
  size?: number;
}

function field(h: Buffer, offset: number, length: number, value: string): void {
  Buffer.from(value, 'latin1').copy(h, offset, 0, length);
}

/** A gzip'd tar with exactly the given entries — including ones promote would never write. */
export function craftTarGz(entries: CraftedEntry[]): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const content = Buffer.from(e.content ?? '');
    const h = Buffer.alloc(512);
    field(h, 0, 100, e.name);
    field(h, 100, 8, `${(e.mode ?? 0o644).toString(8).padStart(7, '0')}\0`);
    field(h, 108, 8, '0000000\0');
    field(h, 116, 8, '0000000\0');
    field(h, 124, 12, `${(e.size ?? content.length).toString(8).padStart(11, '0')}\0`);
    field(h, 136, 12, '00000000000\0');
    field(h, 148, 8, '        ');
    field(h, 156, 1, e.type ?? '0');
    field(h, 157, 100, e.linkname ?? '');
    field(h, 257, 6, 'ustar\0');
    field(h, 263, 2, '00');
    let sum = 0;
    for (const b of h) sum += b;
    field(h, 148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
    blocks.push(h, content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(blocks));
}

/** Every regular file under `root` → [mode, content], for byte-identical tree comparison. */
export async function snapshot(root: string, skip: (rel: string) => boolean = () => false): Promise<Map<string, [number, Buffer]>> {
  const out = new Map<string, [number, Buffer]>();
  async function visit(dir: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const abs = join(dir, name);
      const rel = relative(root, abs);
      if (skip(rel)) continue;
      const s = await stat(abs);
      if (s.isDirectory()) await visit(abs);
      else out.set(rel, [s.mode & 0o111 ? 0o755 : 0o644, await readFile(abs)]);
    }
  }
  await visit(root);
  return out;
}

/** A bundle directory holding kube-prometheus' manifests (95 files, 5.6 MB). */
export async function kubePrometheusBundle(dir: string): Promise<string> {
  const bundle = join(dir, 'kube-prometheus');
  await cp(KUBE_PROMETHEUS, join(bundle, 'manifests'), { recursive: true });
  await writeFile(join(bundle, 'bundle.yaml'), 'apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: kube-prometheus}\nspec:\n  parameters: params.schema.json\n  manifests: manifests/\n  allowSecrets: true\n');
  await writeFile(join(bundle, 'params.schema.json'), '{"type": "object"}\n');
  return bundle;
}

