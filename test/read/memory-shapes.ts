// Shared by the memory suite (read-limits.memory.ts) and bench/read-memory.bench.ts: the two
// bundle shapes of issue 12 §13 (a few large files; very many small entries), pushed, signed and
// promoted to dev in a real project on a real registry, and a way to measure the peak RSS of one
// real CLI run (`/usr/bin/time -v`, which reports the child's high-water mark).
import { spawn } from 'node:child_process';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pushBundle } from '../../src/artifact/push.ts';
import { openProject } from '../../src/promotion/project.ts';
import { promoteTo } from '../../src/promotion/to.ts';
import { signBundle } from '../../src/signing/cosign-signature.ts';
import { BIN } from '../bundle/helpers.ts';
import type { TestProject } from '../promotion/project.ts';

export interface Shape {
  /** `big`: `files` files of `mib` MiB each; `many`: `files` small files in `files/`. */
  kind: 'big' | 'many';
  files: number;
  mib?: number;
}

const BUNDLE_YAML = 'apiVersion: promote/v1\nkind: Bundle\nmetadata: {name: shape}\nspec:\n  parameters: params.schema.json\n  manifests: manifests/\n  files: files/\n';
const SCHEMA = '{"type": "object", "properties": {"namespace": {"type": "string"}, "replicas": {"type": "integer"}}}\n';
const MANIFEST = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shape, namespace: "${params.namespace}"}\ndata: {replicas: "${params.replicas}"}\n';

/** Writes a bundle source of the given shape into `dir`. */
export async function writeShape(dir: string, shape: Shape): Promise<void> {
  await mkdir(join(dir, 'manifests'), { recursive: true });
  await mkdir(join(dir, 'files'), { recursive: true });
  await writeFile(join(dir, 'bundle.yaml'), BUNDLE_YAML);
  await writeFile(join(dir, 'params.schema.json'), SCHEMA);
  await writeFile(join(dir, 'manifests', 'config.yaml'), MANIFEST);
  if (shape.kind === 'big') {
    // Not all zeros (a line of text repeated), so it is content, yet gzip stays fast.
    const line = Buffer.from('0123456789abcdef'.repeat(4) + '\n');
    const chunk = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < chunk.length; i += line.length) line.copy(chunk, i);
    for (let f = 0; f < shape.files; f++) {
      const fh = await open(join(dir, 'files', `blob-${f}.bin`), 'w');
      try {
        for (let m = 0; m < (shape.mib ?? 1); m++) await fh.write(chunk);
      } finally {
        await fh.close();
      }
    }
  } else {
    // 100 directories of equal size, as a real tree would be.
    const perDir = Math.ceil(shape.files / 100);
    for (let d = 0; d * perDir < shape.files; d++) {
      const sub = join(dir, 'files', `d${d}`);
      await mkdir(sub);
      for (let f = d * perDir; f < Math.min(shape.files, (d + 1) * perDir); f++) await writeFile(join(sub, `f${f}.txt`), `file ${f}\n`);
    }
  }
}

/**
 * Pushes a bundle of `shape` into the project's repository (and into the OCI layout `layout`, if
 * given), signs it and promotes it to dev; returns its digest.
 */
export async function promoteShape(p: TestProject, base: string, shape: Shape, tag: string, layout?: string): Promise<string> {
  const src = join(base, `src-${tag}`);
  await writeShape(src, shape);
  const env = { ...p.env, SOURCE_DATE_EPOCH: '1700000000' };
  if (layout) await pushBundle(src, `oci:${layout}:${tag}`, { env });
  const pushed = await pushBundle(src, `${p.repository}:${tag}`, { insecure: true, env });
  await rm(src, { recursive: true, force: true });
  const digest = pushed.reference.slice(pushed.reference.indexOf('@') + 1);
  await signBundle(p.registry, digest, p.ci, p.repository);
  const engine = await openProject({ cwd: p.dir, env: p.env, registry: { insecure: true }, signer: p.promoter, cacheDir: join(base, `engine-cache-${tag}`) });
  await promoteTo(engine, { stage: 'dev', bundle: digest });
  return digest;
}

export interface Measured {
  code: number | null;
  stdout: string;
  stderr: string;
  /** Peak resident set size of the CLI process, in MiB. */
  maxRssMiB: number;
}

/** Runs the real CLI under `/usr/bin/time -v` and returns its peak RSS. */
export function measure(args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-v', process.execPath, BIN, ...args], { cwd: options.cwd, env: { ...options.env, NO_COLOR: '1' } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.stdin.end();
    child.on('close', (code) => {
      const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
      if (!m) return reject(new Error(`no RSS figure from /usr/bin/time: ${stderr.slice(-2000)}`));
      const exit = /Exit status: (\d+)/.exec(stderr);
      resolve({ code: exit ? Number(exit[1]) : code, stdout, stderr: stderr.slice(0, stderr.lastIndexOf('\tCommand being timed')), maxRssMiB: Math.round(Number(m[1]) / 1024) });
    });
  });
}
