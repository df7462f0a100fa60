// `node scripts/image-context.ts [--from binary|package] [--binary <file>] [--tarball <file>] --out <dir>`:
// the build context of deploy/agent/Dockerfile — the Dockerfile and exactly what it copies, nothing
// else (no source tree, no node_modules, no keys): the single executable, or the npm package's
// tarball with the lock file its production dependencies are installed from.
import { copyFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = join(import.meta.dirname, '..');

export interface ImageContextOptions {
  from: 'binary' | 'package';
  out: string;
  /** The single executable (default: dist/promote-linux-x64). */
  binary?: string;
  /** The tarball of `npm pack` (required for --from package). */
  tarball?: string;
}

export function imageContext(options: ImageContextOptions): string[] {
  rmSync(options.out, { recursive: true, force: true });
  mkdirSync(options.out, { recursive: true });
  const files: Record<string, string> = { Dockerfile: join(root, 'deploy', 'agent', 'Dockerfile') };
  if (options.from === 'binary') {
    files['promote-linux-x64'] = options.binary ?? join(root, 'dist', 'promote-linux-x64');
  } else {
    if (!options.tarball) throw new Error('--from package needs --tarball <file> (made by npm pack)');
    files['promote.tgz'] = options.tarball;
    files['package-lock.json'] = join(root, 'package-lock.json');
  }
  for (const [name, from] of Object.entries(files)) copyFileSync(from, join(options.out, name));
  // The context is the whole directory: keep docker from sending anything added to it later.
  writeFileSync(join(options.out, '.dockerignore'), `*\n${Object.keys(files).map((f) => `!${f}`).join('\n')}\n`);
  return Object.keys(files);
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { from: { type: 'string', default: 'binary' }, out: { type: 'string' }, binary: { type: 'string' }, tarball: { type: 'string' } } });
  if (!values.out || (values.from !== 'binary' && values.from !== 'package')) {
    process.stderr.write('usage: node scripts/image-context.ts [--from binary|package] [--binary <file>] [--tarball <file>] --out <dir>\n');
    process.exit(2);
  }
  const out = resolve(values.out);
  const files = imageContext({ from: values.from, out, ...(values.binary && { binary: resolve(values.binary) }), ...(values.tarball && { tarball: resolve(values.tarball) }) });
  process.stderr.write(`wrote ${out}: ${files.join(', ')}\ndocker build${values.from === 'package' ? ' --build-arg PROMOTE_FROM=package' : ''} -t <registry>/promote/agent:<version> ${out}\n`);
}
