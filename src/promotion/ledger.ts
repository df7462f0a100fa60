import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SimpleGit } from 'simple-git';
import { parse as parseYaml } from 'yaml';
import { promoteCacheRoot } from '../cache-root.ts';
import { PromoteError } from '../errors.ts';
import { isGitUrl } from '../pipeline/git-url.ts';
import { splitUrlCredential } from '../redact.ts';
import type { LedgerSpec } from '../pipeline/pipeline.ts';
import { commitMessage, renderStageState, type LedgerChange, type Mutation } from './ledger-change.ts';
import { exists, gitError, gitTimeout, isBareRepository, isMissingObject, isRejectedPush, makeGit, staleLock, topLevel, withHttpCredential } from './ledger-git.ts';
import { withDirectoryLock } from './lock.ts';
import { emptyStageState, stagePath, type StageState } from './stage-file.ts';

// The ledger: a git repository where `promotions/<pipeline>/<stage>.yaml` holds each stage's
// current state and every promotion, approval, rollback and hold is one commit whose trailers
// say what happened. Its log is the audit trail (`promote history`).
//
// Commits are built with plumbing (a private index, write-tree, commit-tree) so promote never
// touches anyone's working tree or index, and land by compare-and-swap on the branch tip:
// `update-ref <new> <old>` in a local repository, a plain (never forced) push to a remote, which
// the remote refuses unless it is a fast-forward of the tip we built on. When the swap fails
// someone else committed first: we fetch, run the caller's mutation again on the new state, and
// either commit on top (their change did not touch what ours depends on) or let the mutation
// refuse. Nothing is ever merged, so no promotion can be lost.
//
// Size: one class, because the compare-and-swap (update → buildCommit → swap → syncWorktree),
// the fetch before it and the reads share the clone, the branch ref and its lock; running git
// is in ledger-git.ts, what a commit says in ledger-change.ts.

const ZERO = '0'.repeat(40);
const MAX_ATTEMPTS = 8;

export interface LedgerOptions {
  /** Environment for git (identity via GIT_AUTHOR_*, HOME for its config). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where clones of remote ledgers are kept (default: promoteCacheRoot(), under ledgers/). */
  cacheDir?: string;
  /** Deadline of each git command, in ms (default $PROMOTE_GIT_TIMEOUT, else ledger-git.ts's DEFAULT_GIT_TIMEOUT_MS). */
  timeoutMs?: number;
  /**
   * Whose repository config names the committer of a remote ledger (see identity()): the
   * project's directory, i.e. the checkout holding the pipeline file. Default: the cache clone.
   */
  identityDir?: string;
}

export interface CommitResult {
  commit: string;
  /** Tries it took: more than 1 means another commit landed first and ours was rebuilt on it. */
  attempts: number;
}

export interface HistoryEntry {
  commit: string;
  author: string;
  date: string;
  subject: string;
  action: string;
  trailers: Record<string, string[]>;
}

export interface GitIdentity {
  name: string;
  email: string;
  /** `Name <email>`. */
  text: string;
}

export class GitLedger {
  /** Where the stage files are committed: the user's repository, or our clone of the remote. */
  readonly gitDir: string;
  /** The remote URL (or path of a bare repository), when the ledger is not local; never with credentials in it. */
  readonly remote: string | undefined;
  readonly description: string;
  private branch: string;
  /**
   * Set by refresh(): the next update may build on the tip just fetched instead of fetching
   * again (one round trip fewer). Safe because the push is the compare-and-swap: if the remote
   * moved in between, it is refused and the retry fetches.
   */
  private fresh = false;
  /** The environment for git: the caller's, plus the remote's credentials as per-command config. */
  private readonly env: NodeJS.ProcessEnv;
  private readonly timeoutMs: number;
  /** A non-bare local repository whose checked-out branch we update: keep its files in step. */
  private readonly worktree: string | undefined;
  private readonly identityDir: string;

  private constructor(init: { gitDir: string; remote?: string; branch: string; env: NodeJS.ProcessEnv; timeoutMs: number; worktree?: string; description: string; identityDir?: string }) {
    this.gitDir = init.gitDir;
    this.identityDir = init.remote ? (init.identityDir ?? init.gitDir) : init.gitDir;
    this.remote = init.remote;
    this.branch = init.branch;
    this.env = init.env;
    this.timeoutMs = init.timeoutMs;
    this.worktree = init.worktree;
    this.description = init.description;
  }

  get branchName(): string {
    return this.branch;
  }

  /**
   * Opens the ledger a pipeline names. A path to a non-bare repository is used in place; a URL,
   * or a path to a bare repository, is cloned into the cache and pushed back to.
   */
  static async open(spec: LedgerSpec, options: LedgerOptions = {}): Promise<GitLedger> {
    let env: NodeJS.ProcessEnv = { ...(options.env ?? process.env), GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' };
    const timeoutMs = options.timeoutMs ?? gitTimeout(env);
    const remoteSpec = isGitUrl(spec.repository) || (await isBareRepository(spec.repository, env, timeoutMs)) ? spec.repository : undefined;
    if (!remoteSpec) {
      const top = await topLevel(spec.repository, env, timeoutMs);
      const git = makeGit(top, env, timeoutMs);
      let branch = spec.branch;
      let worktree: string | undefined;
      const head = (await git.raw(['symbolic-ref', '-q', 'HEAD']).catch(() => '')).trim();
      if (!branch) branch = head.startsWith('refs/heads/') ? head.slice('refs/heads/'.length) : 'main';
      if (head === `refs/heads/${branch}`) worktree = top;
      return new GitLedger({ gitDir: top, branch, env, timeoutMs, ...(worktree && { worktree }), description: `${top} (branch ${branch})` });
    }
    // Credentials in the URL (https://user:TOKEN@host/…) never reach the clone's config, a
    // message or the cache's name: git gets them per command through the environment.
    const credential = splitUrlCredential(remoteSpec);
    const remote = credential?.url ?? remoteSpec;
    if (credential) env = withHttpCredential(env, remote, credential.username, credential.password);
    const cacheRoot = options.cacheDir ?? promoteCacheRoot(env);
    const gitDir = join(cacheRoot, 'ledgers', createHash('sha256').update(remote).digest('hex').slice(0, 16));
    await mkdir(gitDir, { recursive: true });
    const ledger = new GitLedger({ gitDir, remote, branch: spec.branch ?? '', env, timeoutMs, description: `${remote} (branch ${spec.branch ?? 'default'})`, ...(options.identityDir && { identityDir: options.identityDir }) });
    await withDirectoryLock(gitDir, `ledger cache ${gitDir}`, async () => {
      const git = ledger.git();
      if (!(await exists(join(gitDir, 'HEAD')))) {
        await git.raw(['init', '--quiet', '--bare']).catch((e) => {
          throw gitError(e, `cannot create the ledger cache ${gitDir}`);
        });
        // A disposable clone: the remote holds the truth, so the cache skips fsync (it costs
        // ~50 ms per write on some disks) and never runs gc in the middle of a promotion.
        await git.raw(['config', 'core.fsync', 'none']);
        await git.raw(['config', 'gc.auto', '0']);
      }
      // The remote's URL may have changed meaning (a path vs. URL); always point origin at it.
      await git.raw(['config', 'remote.origin.url', remote]);
      if (!ledger.branch) {
        const out = await git.raw(['ls-remote', '--symref', 'origin', 'HEAD']).catch((e) => {
          throw gitError(e, `cannot reach the ledger remote ${remote}`, 'check the URL and your git credentials for it', timeoutMs);
        });
        const m = /^ref: refs\/heads\/(\S+)\s+HEAD/m.exec(out);
        ledger.branch = m ? m[1]! : 'main';
      }
    });
    return ledger;
  }

  private git(): SimpleGit {
    return makeGit(this.gitDir, this.env, this.timeoutMs);
  }

  private get ref(): string {
    return this.remote ? `refs/remotes/origin/${this.branch}` : `refs/heads/${this.branch}`;
  }

  /**
   * Who commits: git's author identity, with git's own precedence (`git var GIT_AUTHOR_IDENT`,
   * as `git commit` resolves it): GIT_AUTHOR_* over the repository's config over the global one.
   * "The repository" is where the commit lands for a local ledger; for a remote ledger, whose
   * commits are made in a cache clone nobody configures, it is the project's checkout (the one
   * holding the pipeline file, `identityDir`), where a repository-local user.name/email lives.
   * Refuses git's guessed identities (user@host). This names who did it in the ledger's log; it
   * authenticates nothing (signed approvals and records do that).
   */
  async identity(): Promise<GitIdentity> {
    return this.ident('GIT_AUTHOR_IDENT');
  }

  // Read once per ledger (one operation asks for it while planning and again while committing);
  // a failure is not kept, so fixing git's config and retrying works.
  private readonly idents = new Map<string, Promise<GitIdentity>>();

  private ident(which: 'GIT_AUTHOR_IDENT' | 'GIT_COMMITTER_IDENT'): Promise<GitIdentity> {
    let known = this.idents.get(which);
    if (!known) {
      known = this.readIdent(which);
      this.idents.set(which, known);
      known.catch(() => this.idents.delete(which));
    }
    return known;
  }

  private async readIdent(which: 'GIT_AUTHOR_IDENT' | 'GIT_COMMITTER_IDENT'): Promise<GitIdentity> {
    let out: string;
    try {
      out = await makeGit(this.identityDir, this.env, this.timeoutMs).raw(['-c', 'user.useConfigOnly=true', 'var', which]);
    } catch (err) {
      throw new PromoteError('GIT_IDENTITY_MISSING', 'git has no identity to record as the promoter: every ledger commit names who did it', {
        cause: err,
        outcome: 'usage',
        hint: 'git config --global user.name "Your Name" && git config --global user.email you@example.com (or set GIT_AUTHOR_NAME and GIT_AUTHOR_EMAIL)',
      });
    }
    const m = /^(.*) <([^>]*)> \d+ [+-]\d{4}$/.exec(out.trim());
    if (!m) throw new PromoteError('GIT_IDENTITY_MISSING', `git reported an identity promote cannot read: ${out.trim()}`, { outcome: 'usage', hint: 'set user.name and user.email in git config' });
    return { name: m[1]!, email: m[2]!, text: `${m[1]} <${m[2]}>` };
  }

  /** For commit-tree in a cache clone: the identities identity() resolved in the project, made explicit. */
  private async commitEnv(): Promise<NodeJS.ProcessEnv> {
    if (this.identityDir === this.gitDir) return {};
    const [author, committer] = await Promise.all([this.ident('GIT_AUTHOR_IDENT'), this.ident('GIT_COMMITTER_IDENT')]);
    return { GIT_AUTHOR_NAME: author.name, GIT_AUTHOR_EMAIL: author.email, GIT_COMMITTER_NAME: committer.name, GIT_COMMITTER_EMAIL: committer.email };
  }

  /** Brings the local view up to date with the remote (no-op for a local ledger). */
  async refresh(): Promise<void> {
    if (!this.remote) return;
    await withDirectoryLock(this.gitDir, `ledger cache ${this.gitDir}`, () => this.fetch());
    this.fresh = true;
  }

  private async fetch(): Promise<void> {
    if (!this.remote) return;
    try {
      await this.git().raw(['fetch', '--quiet', '--no-tags', 'origin', `+refs/heads/${this.branch}:${this.ref}`]);
    } catch (err) {
      if (/couldn't find remote ref/i.test(String((err as Error).message))) {
        // An empty remote (no commit on the branch yet): the ledger starts from nothing.
        await this.git().raw(['update-ref', '-d', this.ref]).catch(() => undefined);
        return;
      }
      throw gitError(err, `cannot fetch the ledger from ${this.remote}`, 'check the URL, the network and your git credentials for the ledger remote', this.timeoutMs);
    }
  }

  private async tip(): Promise<string | undefined> {
    const out = await this.git().raw(['rev-parse', '--verify', '-q', `${this.ref}^{commit}`]).catch(() => '');
    return out.trim() || undefined;
  }

  private async readAt(commit: string | undefined, pipeline: string, stage: string): Promise<StageState | undefined> {
    if (!commit) return undefined;
    let text: string;
    try {
      text = await this.git().raw(['cat-file', 'blob', `${commit}:${stagePath(pipeline, stage)}`]);
    } catch (err) {
      if (isMissingObject(err)) return undefined;
      throw gitError(err, `cannot read ${stagePath(pipeline, stage)} from the ledger`);
    }
    const corrupt = (cause?: unknown) =>
      new PromoteError('LEDGER_CORRUPT', `${stagePath(pipeline, stage)} in the ledger at ${commit.slice(0, 12)} is not a stage ledger file`, { hint: 'the file is written only by promote; restore it from git history', cause });
    let value: StageState | null;
    try {
      value = parseYaml(text) as StageState | null;
    } catch (err) {
      // A hand edit that broke the YAML: the same refusal as any other foreign content.
      throw corrupt(err);
    }
    if (!value || value.kind !== 'StageLedger') throw corrupt();
    return { ...emptyStageState(pipeline, stage), ...value, approvals: value.approvals ?? [] };
  }

  /** The stage's current state (after a refresh, for a remote ledger). */
  async read(pipeline: string, stage: string): Promise<StageState | undefined> {
    return this.readAt(await this.tip(), pipeline, stage);
  }

  /**
   * Commits a change to one stage by compare-and-swap on the branch tip (see the file comment).
   * Returns undefined when the mutation had nothing to commit.
   */
  async update(pipeline: string, stage: string, mutate: Mutation): Promise<CommitResult | undefined> {
    await this.identity();
    const identityEnv = await this.commitEnv();
    const run = async (): Promise<CommitResult | undefined> => {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        if (!(attempt === 1 && this.fresh)) await this.fetch();
        this.fresh = false;
        const base = await this.tip();
        const change = await mutate(await this.readAt(base, pipeline, stage), attempt, base);
        if (!change) return undefined;
        const commit = await this.buildCommit(base, stagePath(pipeline, stage), change, identityEnv);
        if (await this.swap(base, commit)) {
          await this.syncWorktree(stagePath(pipeline, stage));
          return { commit, attempts: attempt };
        }
      }
      throw new PromoteError('LEDGER_CONTENDED', `the ledger branch ${this.branch} kept moving: ${MAX_ATTEMPTS} attempts to commit lost the race`, {
        outcome: 'refused',
        hint: 'other promotions are landing right now; run the command again',
      });
    };
    return this.remote ? withDirectoryLock(this.gitDir, `ledger cache ${this.gitDir}`, run) : run();
  }

  private async buildCommit(base: string | undefined, path: string, change: LedgerChange, identityEnv: NodeJS.ProcessEnv): Promise<string> {
    const tmp = await mkdtemp(join(tmpdir(), 'promote-ledger-'));
    try {
      const file = join(tmp, 'stage.yaml');
      await writeFile(file, renderStageState(change.state));
      const msg = join(tmp, 'message');
      await writeFile(msg, commitMessage(change));
      const git = makeGit(this.gitDir, { ...this.env, ...identityEnv, GIT_INDEX_FILE: join(tmp, 'index') }, this.timeoutMs);
      await git.raw(base ? ['read-tree', base] : ['read-tree', '--empty']);
      const blob = (await git.raw(['hash-object', '-w', '--path', path, file])).trim();
      await git.raw(['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`]);
      const tree = (await git.raw(['write-tree'])).trim();
      const args = ['-c', 'user.useConfigOnly=true', 'commit-tree', tree, ...(base ? ['-p', base] : []), '-F', msg];
      return (await git.raw(args)).trim();
    } catch (err) {
      if (err instanceof PromoteError) throw err;
      throw gitError(err, 'cannot write the ledger commit');
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** True when `commit` replaced `base` as the branch tip; false when someone else moved it. */
  private async swap(base: string | undefined, commit: string): Promise<boolean> {
    const git = this.git();
    if (!this.remote) {
      try {
        await git.raw(['update-ref', '-m', 'promote', `refs/heads/${this.branch}`, commit, base ?? ZERO]);
        return true;
      } catch (err) {
        if (!staleLock(String((err as Error).message)) && (isRejectedPush(err) || /but expected|reference already exists|is at .* but expected/i.test(String((err as Error).message)))) return false;
        throw gitError(err, 'cannot update the ledger branch', undefined, this.timeoutMs);
      }
    }
    try {
      await git.raw(['push', '--quiet', '--porcelain', 'origin', `${commit}:refs/heads/${this.branch}`]);
    } catch (err) {
      if (isRejectedPush(err)) return false;
      throw gitError(err, `cannot push the ledger to ${this.remote}`, 'check your write access to the ledger remote; nothing was promoted', this.timeoutMs);
    }
    await git.raw(['update-ref', this.ref, commit]);
    return true;
  }

  /** Keeps a checked-out local ledger's file and index entry equal to the new tip. */
  private async syncWorktree(path: string): Promise<void> {
    if (!this.worktree) return;
    await this.git()
      .raw(['checkout', `refs/heads/${this.branch}`, '--', path])
      .catch(() => undefined);
  }

  /** The stage's state as committed at `commit` (undefined when the file did not exist there). */
  async stateAt(commit: string, pipeline: string, stage: string): Promise<StageState | undefined> {
    return this.readAt(commit, pipeline, stage);
  }

  /** The parent of `commit` (undefined for a root commit). */
  async parentOf(commit: string): Promise<string | undefined> {
    const out = await this.git().raw(['rev-list', '--parents', '-n1', commit]);
    return out.trim().split(/\s+/)[1];
  }

  /** The newest merge commit on the branch, if any: promote only ever appends single-parent commits. */
  async newestMerge(): Promise<string | undefined> {
    const tip = await this.tip();
    if (!tip) return undefined;
    return (await this.git().raw(['rev-list', '--merges', '-n1', tip])).trim() || undefined;
  }

  /** Every commit that changed one stage, newest first: the audit trail. */
  async history(pipeline: string, stage: string, limit?: number): Promise<HistoryEntry[]> {
    const tip = await this.tip();
    if (!tip) return [];
    const SEP = '\x1e';
    const out = await this.git().raw(['log', ...(limit ? [`-n${limit}`] : []), `--format=%H%x00%an <%ae>%x00%aI%x00%s%x00%(trailers:only,unfold)${SEP}`, tip, '--', stagePath(pipeline, stage)]);
    return out
      .split(SEP)
      .map((s) => s.replace(/^\n+/, ''))
      .filter((s) => s.trim())
      .map((entry) => {
        const [commit, author, date, subject, trailerText] = entry.split('\x00') as [string, string, string, string, string];
        const trailers: Record<string, string[]> = {};
        for (const line of (trailerText ?? '').split('\n')) {
          const m = /^([A-Za-z][\w-]*):\s?(.*)$/.exec(line);
          if (m) (trailers[m[1]!] ??= []).push(m[2]!);
        }
        return { commit, author, date, subject, action: trailers['Promote-Action']?.[0] ?? 'unknown', trailers };
      });
  }
}
