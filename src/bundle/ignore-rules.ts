import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Ignore } from 'ignore';
import { git, gitEnv, inGitWorkTree } from './git.ts';

// The ignore rules the bundle walk applies (walk.ts, "Policy"): `.promoteignore`, and what git
// ignores (git itself inside a work tree, the bundle's own .gitignore files outside one).

export const IGNORE_FILE = '.promoteignore';

// Loaded when a bundle has rules to apply: most walks (a render of a chart) meet none.
let ignoreFactory: typeof import('ignore') | undefined;
const ignore = (): Ignore => (ignoreFactory ??= createRequire(import.meta.url)('ignore') as typeof import('ignore'))();

/** `.promoteignore` rules: `ignored` (excluded), `unignored` (a `!rule` re-includes it), or neither. */
export async function loadPromoteIgnore(root: string): Promise<Ignore | undefined> {
  try {
    const rules = await readFile(join(root, IGNORE_FILE), 'utf8');
    return ignore().add(rules);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return undefined;
  }
}

/**
 * What git ignores under `root`, asked of git itself: ignored untracked paths (a directory as
 * `dir/`, its content not listed), with the rule that ignores each. Undefined outside a work
 * tree or when git cannot answer (not installed, a repository it refuses to read, a bundle
 * directory that is itself ignored): then the .gitignore files inside the bundle apply.
 */
export async function gitIgnored(root: string, env: NodeJS.ProcessEnv): Promise<Map<string, string> | undefined> {
  if (!inGitWorkTree(root)) return undefined;
  const safeEnv = gitEnv(env);
  const listed = await git(root, ['ls-files', '-z', '--others', '--ignored', '--exclude-standard', '--directory', '--', '.'], safeEnv, { raw: true });
  if (listed === undefined) return undefined;
  const paths = listed.split('\0').filter((p) => p !== '');
  const out = new Map<string, string>(paths.map((p) => [p, '']));
  if (paths.length === 0) return out;
  const why = await git(root, ['check-ignore', '-z', '-v', '--stdin'], safeEnv, { input: paths.join('\0') + '\0', raw: true });
  const fields = (why ?? '').split('\0');
  for (let i = 0; i + 3 < fields.length; i += 4) {
    if (out.has(fields[i + 3]!)) out.set(fields[i + 3]!, `${fields[i]}:${fields[i + 1]}:${fields[i + 2]}`);
  }
  return out;
}

/** The .gitignore files met on the way down, applied as git does: the deepest rule that matches decides. */
export class GitignoreFiles {
  private readonly levels: { base: string; rules: Ignore; file: string; patterns: string[] }[] = [];

  /** Reads `<dirRel>/.gitignore` if there is one; returns how many levels to pop when leaving the directory. */
  enter(dirAbs: string, dirRel: string): number {
    let text: string;
    try {
      text = readFileSync(join(dirAbs, '.gitignore'), 'utf8');
    } catch {
      return 0;
    }
    const patterns = text.split(/\r?\n/);
    this.levels.push({ base: dirRel, rules: ignore().add(text), file: dirRel ? `${dirRel}/.gitignore` : '.gitignore', patterns });
    return 1;
  }

  leave(n: number): void {
    this.levels.length -= n;
  }

  test(rel: string, isDir: boolean): string | undefined {
    for (let i = this.levels.length - 1; i >= 0; i--) {
      const level = this.levels[i]!;
      const local = level.base ? rel.slice(level.base.length + 1) : rel;
      const r = level.rules.test(isDir ? `${local}/` : local);
      if (r.unignored) return undefined;
      if (r.ignored) {
        const line = r.rule ? level.patterns.indexOf(r.rule.pattern) + 1 : 0;
        return `${level.file}:${line}:${r.rule?.pattern ?? ''}`;
      }
    }
    return undefined;
  }
}
