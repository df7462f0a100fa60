// What `promote run --listen` understands of the webhooks it receives: a registry saying a
// manifest was pushed, or a git host saying a branch was pushed. Pure functions over the
// request's headers and parsed JSON body (authentication is webhook-auth.ts's, the server
// listen.ts's). An event only wakes a pass, and the pass verifies everything it acts on, so the
// match is by name and deliberately lenient (a registry's host name differs behind proxies);
// nothing in a payload is trusted beyond "something may have changed".

export type WebhookSource = 'distribution' | 'harbor' | 'github-package' | 'github' | 'gitlab' | 'gitea';

/** A manifest (a bundle, its signature, a record, a status report) pushed to a repository. */
export interface ImagePush {
  kind: 'image-push';
  source: WebhookSource;
  /** The repository's path without its host, lower case: `acme/webapp`. */
  repository: string;
  /** The host the payload names, when it names one (informational). */
  host?: string;
  tag?: string;
  digest?: string;
}

/** A branch or tag pushed to a git repository. */
export interface GitPush {
  kind: 'git-push';
  source: WebhookSource;
  /** `refs/heads/main`. */
  ref: string;
  /** Every URL the payload gives for the repository (clone, ssh, web). */
  repositoryUrls: string[];
  /** For the log: the repository's name as the payload spells it. */
  name: string;
}

export type WebhookEvent = ImagePush | GitPush;

/** Not one of the payloads above (a ping, a pull, a delete, another host's event): answered and ignored. */
export interface UnknownWebhook {
  kind: 'other';
  source?: WebhookSource;
  description: string;
  /** Routine noise not worth a log line (distribution's blob events, one per layer). */
  quiet?: boolean;
}

export type ParsedWebhook = { events: WebhookEvent[] } | UnknownWebhook;

type Json = Record<string, unknown>;

function obj(v: unknown): Json | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** `host/a/b:tag` or `host/a/b@sha256:…` or `http(s)://host/v2/a/b/manifests/x` → host and path. */
function splitReference(ref: string): { host?: string; path: string } | undefined {
  let s = ref.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(s);
  if (scheme) {
    try {
      const u = new URL(s);
      const v2 = /^\/v2\/(.+?)\/(manifests|blobs|tags)\//.exec(u.pathname);
      return { host: u.host.toLowerCase(), path: (v2 ? v2[1]! : u.pathname.replace(/^\/+/, '')).toLowerCase() };
    } catch {
      return undefined;
    }
  }
  s = s.replace(/@.*$/, '');
  const slash = s.indexOf('/');
  const first = slash < 0 ? '' : s.slice(0, slash);
  // A reference's first component is a host when it looks like one (docker's rule).
  const hasHost = slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost');
  let path = hasHost ? s.slice(slash + 1) : s;
  path = path.replace(/:[^/]*$/, '');
  if (!path) return undefined;
  return { ...(hasHost && { host: first.toLowerCase() }), path: path.toLowerCase() };
}

/** A pipeline repository (`host/acme/webapp`) as a path, the way events name it; `oci:` layouts have none. */
export function repositoryPath(repository: string): string | undefined {
  if (repository.startsWith('oci:')) return undefined;
  return splitReference(repository)?.path;
}

// Blobs (layers, configs) are pushed before their manifest: the manifest's event is the one that
// means "a new artefact", so blob events are not counted (distribution sends both).
const BLOB_TYPES = new Set(['application/octet-stream', 'application/vnd.oci.image.layer.v1.tar', 'application/vnd.oci.image.layer.v1.tar+gzip']);

/** distribution's notification envelope (docs/about/notifications.md: `{events: [...]}`). */
function distribution(body: Json): ParsedWebhook {
  const events = Array.isArray(body.events) ? body.events : [];
  const out: WebhookEvent[] = [];
  for (const raw of events) {
    const e = obj(raw);
    const target = obj(e?.target);
    if (!e || !target || e.action !== 'push') continue;
    const mediaType = str(target.mediaType);
    const tag = str(target.tag);
    if (!tag && mediaType && BLOB_TYPES.has(mediaType)) continue;
    const repository = str(target.repository);
    if (!repository) continue;
    const url = str(target.url);
    const host = (url && splitReference(url)?.host) ?? str(obj(e.request)?.host)?.toLowerCase();
    out.push({ kind: 'image-push', source: 'distribution', repository: repository.toLowerCase(), ...(host && { host }), ...(tag && { tag }), ...(str(target.digest) && { digest: str(target.digest)! }) });
  }
  if (!out.length) return { kind: 'other', source: 'distribution', description: `${events.length} registry event(s), no manifest push`, quiet: true };
  return { events: out };
}

/** Harbor's webhook, default format (`type: PUSH_ARTIFACT`) or CloudEvents (`harbor.artifact.pushed`). */
function harbor(type: string, data: Json): ParsedWebhook {
  if (type !== 'PUSH_ARTIFACT' && type !== 'harbor.artifact.pushed') return { kind: 'other', source: 'harbor', description: `Harbor event ${type}` };
  const repo = obj(data.repository);
  const fullName = str(repo?.repo_full_name) ?? (str(repo?.namespace) && str(repo?.name) ? `${str(repo!.namespace)}/${str(repo!.name)}` : undefined);
  const resources = Array.isArray(data.resources) ? data.resources.map(obj).filter((r): r is Json => !!r) : [];
  const out: WebhookEvent[] = [];
  for (const r of resources.length ? resources : [{}]) {
    const ref = str(r.resource_url) ? splitReference(str(r.resource_url)!) : undefined;
    const repository = (fullName ?? ref?.path)?.toLowerCase();
    if (!repository) continue;
    out.push({ kind: 'image-push', source: 'harbor', repository, ...(ref?.host && { host: ref.host }), ...(str(r.tag) && { tag: str(r.tag)! }), ...(str(r.digest) && { digest: str(r.digest)! }) });
  }
  if (!out.length) return { kind: 'other', source: 'harbor', description: 'Harbor push without a repository' };
  return { events: out };
}

/** GitHub's `package` and `registry_package` events (GHCR): a container version published. */
function githubPackage(event: string, body: Json): ParsedWebhook {
  const pkg = obj(body[event === 'package' ? 'package' : 'registry_package']);
  const action = str(body.action);
  if (!pkg || (action !== 'published' && action !== 'updated')) return { kind: 'other', source: 'github-package', description: `GitHub ${event} ${action ?? ''}`.trim() };
  const type = str(pkg.package_type)?.toLowerCase();
  if (type && type !== 'container' && type !== 'docker') return { kind: 'other', source: 'github-package', description: `GitHub ${type} package` };
  const version = obj(pkg.package_version);
  const ref = str(version?.package_url) ? splitReference(str(version!.package_url)!) : undefined;
  const owner = str(pkg.namespace) ?? str(obj(pkg.owner)?.login);
  const name = str(pkg.name);
  const repository = ref?.path ?? (owner && name ? `${owner}/${name}`.toLowerCase() : undefined);
  if (!repository) return { kind: 'other', source: 'github-package', description: `GitHub ${event} without a package name` };
  const tag = str(obj(obj(version?.container_metadata)?.tag)?.name);
  const digest = str(obj(obj(version?.container_metadata)?.tag)?.digest) ?? str(version?.version);
  const host = ref?.host ?? (str(obj(pkg.registry)?.url) ? splitReference(str(obj(pkg.registry)!.url)!)?.host : undefined);
  return { events: [{ kind: 'image-push', source: 'github-package', repository, ...(host && { host }), ...(tag && { tag }), ...(digest?.startsWith('sha256:') && { digest }) }] };
}

function gitPush(source: WebhookSource, body: Json, urls: unknown[], name: string | undefined): ParsedWebhook {
  const ref = str(body.ref);
  const repositoryUrls = urls.map(str).filter((u): u is string => !!u);
  if (!ref || !repositoryUrls.length) return { kind: 'other', source, description: 'a push without ref or repository' };
  return { events: [{ kind: 'git-push', source, ref, repositoryUrls, name: name ?? repositoryUrls[0]! }] };
}

/** The events in one webhook request: `headers` lower-cased as node gives them, `body` parsed JSON. */
export function parseWebhook(headers: Record<string, string | string[] | undefined>, body: unknown): ParsedWebhook {
  const b = obj(body);
  if (!b) return { kind: 'other', description: 'the body is not a JSON object' };
  const github = header(headers, 'x-github-event');
  const gitea = header(headers, 'x-gitea-event') ?? header(headers, 'x-forgejo-event') ?? header(headers, 'x-gogs-event');
  const gitlab = header(headers, 'x-gitlab-event');
  // Gitea also sends X-GitHub-Event for compatibility: its own header wins.
  if (gitea) {
    if (gitea !== 'push') return { kind: 'other', source: 'gitea', description: `Gitea event ${gitea}` };
    const repo = obj(b.repository);
    return gitPush('gitea', b, [repo?.clone_url, repo?.ssh_url, repo?.html_url], str(repo?.full_name));
  }
  if (gitlab) {
    if (gitlab !== 'Push Hook' && b.object_kind !== 'push') return { kind: 'other', source: 'gitlab', description: `GitLab ${gitlab}` };
    const project = obj(b.project);
    const repo = obj(b.repository);
    return gitPush('gitlab', b, [project?.git_http_url, project?.git_ssh_url, project?.web_url, repo?.git_http_url, repo?.git_ssh_url, repo?.url, repo?.homepage], str(project?.path_with_namespace));
  }
  if (github) {
    if (github === 'package' || github === 'registry_package') return githubPackage(github, b);
    if (github !== 'push') return { kind: 'other', source: 'github', description: `GitHub event ${github}` };
    const repo = obj(b.repository);
    return gitPush('github', b, [repo?.clone_url, repo?.ssh_url, repo?.git_url, repo?.html_url], str(repo?.full_name));
  }
  if (Array.isArray(b.events)) return distribution(b);
  if (typeof b.type === 'string' && obj(b.event_data)) return harbor(b.type, obj(b.event_data)!);
  if (typeof b.specversion === 'string' && typeof b.type === 'string' && b.type.startsWith('harbor.') && obj(b.data)) return harbor(b.type, obj(b.data)!);
  return { kind: 'other', description: 'not a registry or git push webhook promote knows' };
}

/**
 * A git repository's identity for comparison: `git@host:a/b.git`, `ssh://git@host:22/a/b`,
 * `https://host/a/b.git` all become `host/a/b`; a local path stays a path. Ports and users are
 * dropped (ssh and https of one host differ only there).
 */
export function gitIdentity(url: string): string {
  let s = url.trim().replace(/\/+$/, '').replace(/\.git$/i, '');
  const scp = /^(?:[^@/]+@)?([^:/]+):(?!\/)(.+)$/.exec(s);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(s) && scp && !s.startsWith('/')) return `${scp[1]!.toLowerCase()}/${scp[2]!.replace(/^\/+/, '').toLowerCase()}`;
  if (/^file:\/\//i.test(s)) s = decodeURIComponent(new URL(s).pathname);
  if (s.startsWith('/')) return s;
  try {
    const u = new URL(s);
    return `${u.hostname.toLowerCase()}/${u.pathname.replace(/^\/+/, '').toLowerCase()}`;
  } catch {
    return s.toLowerCase();
  }
}

/** What a pipeline cares about: its repositories (as paths) and git branches (ledger, config). */
export interface WebhookInterest {
  repositories: string[];
  git: Array<{ url: string; branch?: string; why: string }>;
}

/** Why `event` concerns the pipeline (a short phrase for the log), or undefined when it does not. */
export function concerns(event: WebhookEvent, interest: WebhookInterest): string | undefined {
  if (event.kind === 'image-push') {
    return interest.repositories.includes(event.repository) ? `a push to ${event.repository}` : undefined;
  }
  const ids = new Set(event.repositoryUrls.map(gitIdentity));
  for (const g of interest.git) {
    if (!ids.has(gitIdentity(g.url))) continue;
    if (g.branch === undefined || event.ref === `refs/heads/${g.branch}`) return g.why;
  }
  return undefined;
}

/** One line for the log: what came in (never headers, never the secret). */
export function describeEvent(event: WebhookEvent): string {
  if (event.kind === 'image-push') {
    const ref = event.tag ? `:${event.tag}` : '';
    const digest = event.digest ? ` ${event.digest.slice(0, 19)}` : '';
    return `${event.source} push ${event.repository}${ref}${digest}`;
  }
  return `${event.source} push ${event.name} ${event.ref}`;
}
