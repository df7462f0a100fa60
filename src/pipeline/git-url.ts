// `ledger.repository` is a git URL (scheme://… or scp-like user@host:path) or a local path.
export function isGitUrl(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || /^[\w.-]+@[\w.-]+:/.test(s);
}
