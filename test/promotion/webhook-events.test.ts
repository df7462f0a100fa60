import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { authenticated, hubSignature } from '../../src/promotion/webhook-auth.ts';
import { concerns, gitIdentity, parseWebhook, repositoryPath, type WebhookEvent, type WebhookInterest } from '../../src/promotion/webhook-events.ts';

// Pure parsing and matching of the webhooks `promote run --listen` receives, over payloads in
// test/fixtures/webhooks (the distribution ones captured from the real registry, the others
// written from the senders' documented formats: README.md there). No server here; listen.test.ts
// and listen.integration.test.ts send them over HTTP.

const fixture = (name: string): unknown => JSON.parse(readFileSync(new URL(`../fixtures/webhooks/${name}`, import.meta.url), 'utf8'));

function events(headers: Record<string, string>, body: unknown): WebhookEvent[] {
  const parsed = parseWebhook(headers, body);
  assert.ok(!('kind' in parsed), `expected events, got ${JSON.stringify(parsed)}`);
  return parsed.events;
}

const INTEREST: WebhookInterest = {
  repositories: ['acme/webapp'],
  git: [{ url: 'git@github.com:acme/webapp-ledger.git', branch: 'main', why: 'ledger' }, { url: 'https://gitlab.example.com/acme/platform/webapp-ledger', branch: 'main', why: 'gitlab ledger' }, { url: 'ssh://git@git.example.com/acme/webapp-config.git', branch: 'main', why: 'config' }],
};

test('distribution: a manifest push (captured from docker-registry) is an image push of acme/webapp:v1 that concerns the pipeline; a blob push is no event', () => {
  const [e, ...rest] = events({ 'content-type': 'application/vnd.docker.distribution.events.v1+json' }, fixture('distribution-manifest-push.json'));
  assert.equal(rest.length, 0);
  assert.equal(e!.kind, 'image-push');
  assert.deepEqual({ ...e }, { kind: 'image-push', source: 'distribution', repository: 'acme/webapp', host: '127.0.0.1:23173', tag: 'v1', digest: 'sha256:8c47de94aac0a477c75e992ae6f6772fa9d679b90606f908116b6276685a72fb' });
  assert.equal(concerns(e!, INTEREST), 'a push to acme/webapp');
  assert.equal(concerns(e!, { ...INTEREST, repositories: ['acme/other'] }), undefined);
  const blob = parseWebhook({}, fixture('distribution-blob-push.json'));
  assert.ok('kind' in blob && blob.kind === 'other', JSON.stringify(blob));
});

test('distribution: pull and delete actions are ignored, several pushes in one envelope are each an event', () => {
  const push = (fixture('distribution-manifest-push.json') as { events: Array<Record<string, unknown>> }).events[0]!;
  const body = { events: [{ ...push, action: 'pull' }, { ...push, action: 'delete' }, push, { ...push, target: { ...(push.target as object), repository: 'acme/api', tag: 'sha256-abc.sig' } }] };
  const list = events({}, body);
  assert.deepEqual(list.map((e) => e.kind === 'image-push' && `${e.repository}:${e.tag}`), ['acme/webapp:v1', 'acme/api:sha256-abc.sig']);
  assert.ok('kind' in parseWebhook({}, { events: [{ ...push, action: 'pull' }] }));
});

test('Harbor: PUSH_ARTIFACT (default format) and harbor.artifact.pushed (CloudEvents) name acme/webapp:v7; PULL_ARTIFACT is ignored', () => {
  for (const name of ['harbor-push-artifact.json', 'harbor-cloudevents-push.json']) {
    const [e] = events({}, fixture(name));
    assert.deepEqual({ ...e }, { kind: 'image-push', source: 'harbor', repository: 'acme/webapp', host: 'harbor.example.com', tag: 'v7', digest: 'sha256:8c47de94aac0a477c75e992ae6f6772fa9d679b90606f908116b6276685a72fb' }, name);
    assert.ok(concerns(e!, INTEREST));
  }
  const pull = parseWebhook({}, fixture('harbor-pull-artifact.json'));
  assert.ok('kind' in pull && pull.source === 'harbor' && /PULL_ARTIFACT/.test(pull.description));
});

test('GHCR: GitHub package and registry_package "published" events name the container ghcr.io/acme/webapp:v7', () => {
  for (const [event, name] of [['package', 'github-package-published.json'], ['registry_package', 'github-registry-package-published.json']] as const) {
    const [e] = events({ 'x-github-event': event }, fixture(name));
    assert.deepEqual({ ...e }, { kind: 'image-push', source: 'github-package', repository: 'acme/webapp', host: 'ghcr.io', tag: 'v7', digest: 'sha256:8c47de94aac0a477c75e992ae6f6772fa9d679b90606f908116b6276685a72fb' }, name);
    assert.ok(concerns(e!, INTEREST));
  }
  // An npm package of the same name is not a bundle.
  const npm = fixture('github-package-published.json') as { package: Record<string, unknown> };
  assert.ok('kind' in parseWebhook({ 'x-github-event': 'package' }, { ...npm, package: { ...npm.package, package_type: 'npm' } }));
});

test('GitHub push: the ledger branch concerns the pipeline (its ssh URL matches the payload\'s clone URL), another branch or repository does not; ping is ignored', () => {
  const [e] = events({ 'x-github-event': 'push' }, fixture('github-push.json'));
  assert.equal(e!.kind, 'git-push');
  assert.equal(concerns(e!, INTEREST), 'ledger');
  const other = fixture('github-push.json') as Record<string, unknown>;
  assert.equal(concerns(events({ 'x-github-event': 'push' }, { ...other, ref: 'refs/heads/feature' })[0]!, INTEREST), undefined);
  assert.equal(concerns(events({ 'x-github-event': 'push' }, { ...other, ref: 'refs/tags/main' })[0]!, INTEREST), undefined);
  const elsewhere = { ...other, repository: { clone_url: 'https://github.com/acme/something-else.git' } };
  assert.equal(concerns(events({ 'x-github-event': 'push' }, elsewhere)[0]!, INTEREST), undefined);
  const ping = parseWebhook({ 'x-github-event': 'ping' }, fixture('github-ping.json'));
  assert.ok('kind' in ping && ping.description === 'GitHub event ping');
});

test('GitLab Push Hook: a subgroup project over ssh with a port matches its https URL; Gitea push (which also sends X-GitHub-Event) is read as Gitea', () => {
  const [g] = events({ 'x-gitlab-event': 'Push Hook' }, fixture('gitlab-push-hook.json'));
  assert.equal(g!.source, 'gitlab');
  assert.equal(concerns(g!, INTEREST), 'gitlab ledger');
  assert.ok('kind' in parseWebhook({ 'x-gitlab-event': 'Merge Request Hook' }, { object_kind: 'merge_request' }));
  const [t] = events({ 'x-gitea-event': 'push', 'x-github-event': 'push' }, fixture('gitea-push.json'));
  assert.equal(t!.source, 'gitea');
  assert.equal(concerns(t!, INTEREST), 'config');
  assert.ok('kind' in parseWebhook({ 'x-gitea-event': 'issues' }, fixture('gitea-push.json')));
});

test('unknown payloads and non-objects are "other", never an event', () => {
  for (const body of [null, [], 'push', 42, {}, { hello: 'world' }, { events: 'nope' }]) {
    const parsed = parseWebhook({}, body);
    assert.ok('kind' in parsed && parsed.kind === 'other', JSON.stringify(body));
  }
});

test('git identities: scp, ssh, https, git:// and file forms of one repository compare equal; paths stay paths', () => {
  const same = ['git@github.com:Acme/Ledger.git', 'ssh://git@github.com:22/acme/ledger', 'https://github.com/acme/ledger.git', 'https://token@github.com/acme/ledger/', 'git://github.com/acme/ledger.git'];
  assert.deepEqual(new Set(same.map(gitIdentity)), new Set(['github.com/acme/ledger']));
  assert.equal(gitIdentity('/srv/git/ledger.git'), '/srv/git/ledger');
  assert.equal(gitIdentity('file:///srv/git/ledger.git'), '/srv/git/ledger');
  assert.notEqual(gitIdentity('https://github.com/acme/ledger2'), gitIdentity('https://github.com/acme/ledger'));
  assert.equal(repositoryPath('registry.example.com:5000/Acme/WebApp'), 'acme/webapp');
  assert.equal(repositoryPath('oci:/srv/layout'), undefined);
});

test('authentication: Bearer, X-Hub-Signature-256, X-Gitea-Signature and X-Gitlab-Token each prove the secret; a wrong or missing one does not', () => {
  const secret = 'correct horse battery staple';
  const body = Buffer.from('{"ref":"refs/heads/main"}');
  const hmacHex = hubSignature(body, secret).slice('sha256='.length);
  assert.equal(authenticated({ authorization: `Bearer ${secret}` }, body, secret), true);
  assert.equal(authenticated({ 'x-hub-signature-256': hubSignature(body, secret) }, body, secret), true);
  assert.equal(authenticated({ 'x-gitea-signature': hmacHex }, body, secret), true);
  assert.equal(authenticated({ 'x-gitlab-token': secret }, body, secret), true);
  assert.equal(authenticated({}, body, secret), false);
  assert.equal(authenticated({ authorization: `Bearer ${secret}x` }, body, secret), false);
  assert.equal(authenticated({ authorization: `Basic ${Buffer.from(`u:${secret}`).toString('base64')}` }, body, secret), false);
  // A signature over another body (the attacker replays a signature with a changed payload).
  assert.equal(authenticated({ 'x-hub-signature-256': hubSignature('{"ref":"refs/heads/evil"}', secret) }, body, secret), false);
  assert.equal(authenticated({ 'x-hub-signature-256': hmacHex }, body, secret), false);
  assert.equal(authenticated({ 'x-gitlab-token': secret.slice(0, -1) }, body, secret), false);
});

test('look-alike names wake nothing: a repository with a prefix or suffix, a nested or parent path, a branch that starts like the ledger branch, a host that starts like the git host', () => {
  const push = fixture('distribution-manifest-push.json') as { events: Array<{ target: Record<string, unknown> }> };
  const named = (repository: string) => ({ events: [{ ...push.events[0], target: { ...push.events[0]!.target, repository } }] });
  for (const repository of ['acme/webapp-evil', 'acme/webap', 'evil-acme/webapp', 'acme/webapp/evil', 'acme', 'evil/acme/webapp', 'acme/webapp ']) {
    assert.equal(concerns(events({}, named(repository))[0]!, INTEREST), undefined, repository);
  }
  // Case is not a different repository (registries lower-case names); the host is not compared (docs/webhooks.md).
  assert.equal(concerns(events({}, named('ACME/WebApp'))[0]!, INTEREST), 'a push to acme/webapp');
  const gh = fixture('github-push.json') as Record<string, unknown>;
  const at = (ref: string, clone_url: string) => events({ 'x-github-event': 'push' }, { ...gh, ref, repository: { clone_url } })[0]!;
  const ledger = 'https://github.com/acme/webapp-ledger.git';
  assert.equal(concerns(at('refs/heads/main', ledger), INTEREST), 'ledger');
  for (const ref of ['refs/heads/main-evil', 'refs/heads/evil/main', 'refs/heads/Main', 'main', 'refs/remotes/origin/main']) assert.equal(concerns(at(ref, ledger), INTEREST), undefined, ref);
  for (const url of ['https://github.com.evil.example/acme/webapp-ledger.git', 'https://evil.example/github.com/acme/webapp-ledger.git', 'https://github.com/acme/webapp-ledger-evil.git', 'https://github.com/acme/webapp-ledger/evil.git', 'git@evil.example:acme/webapp-ledger.git']) {
    assert.equal(concerns(at('refs/heads/main', url), INTEREST), undefined, url);
  }
});
