import { execFileSync } from 'node:child_process';
import { packageDir, readAsset, runtime, type Runtime } from './assets.ts';

// What `promote version` reports: which release, built from which commit, on which Node. The
// commit is stamped into dist/build-info.json when the package or the binary is built
// (scripts/build-info.ts); a checkout has no build, so there it is asked of git.

export interface VersionInfo {
  version: string;
  /** The git commit the code was built from; `unknown` when built outside a git checkout. */
  commit: string;
  /** The build (or the checkout) had uncommitted changes to tracked files. */
  modified: boolean;
  /** The Node.js runtime running promote (inside the executable, for the binary). */
  node: string;
  platform: string;
  runtime: Runtime;
}

/** The shape of dist/build-info.json. */
export interface BuildInfo {
  version: string;
  commit: string;
  modified: boolean;
}

/** The commit of the git checkout at `dir`, or `unknown` when it is none (or git is missing). */
export function gitCommit(dir: string): Pick<BuildInfo, 'commit' | 'modified'> {
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: git('rev-parse', 'HEAD'), modified: git('status', '--porcelain', '--untracked-files=no') !== '' };
  } catch {
    return { commit: 'unknown', modified: false };
  }
}

export function versionInfo(): VersionInfo {
  const where = runtime();
  const { version } = JSON.parse(readAsset('package.json')) as { version: string };
  const { commit, modified } = where === 'checkout'
    ? gitCommit(packageDir())
    : (JSON.parse(readAsset('dist/build-info.json')) as BuildInfo);
  return { version, commit, modified, node: process.version, platform: `${process.platform}-${process.arch}`, runtime: where };
}

export function versionText(v: VersionInfo): string {
  const from = { checkout: 'a git checkout (TypeScript sources)', package: 'the npm package', binary: 'the single executable' }[v.runtime];
  return [
    `promote ${v.version}`,
    `commit  ${v.commit}${v.modified ? ' (with uncommitted changes)' : ''}`,
    `node    ${v.node} (${v.platform})`,
    `from    ${from}`,
    '',
  ].join('\n');
}
