// Stamps what `promote version` reports into dist/build-info.json: the package version and the
// git commit being built (`unknown` outside a git checkout, e.g. a build from an unpacked
// tarball). Run by `npm run build` (so by `npm pack`) and by `npm run build:binary`.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gitCommit, type BuildInfo } from '../src/version.ts';

export function buildInfo(root: string): BuildInfo {
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  return { version, ...gitCommit(root) };
}

export function writeBuildInfo(root: string, file: string): BuildInfo {
  const info = buildInfo(root);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(info, null, 2)}\n`);
  return info;
}
