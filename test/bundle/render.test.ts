import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { isPromoteError, type PromoteError } from '../../src/errors.ts';
import { renderFiles, toYamlStream, type RenderContext, type RenderedFile, type SourceFile } from '../../src/bundle/render.ts';

const enc = (s: string) => new TextEncoder().encode(s);
const layout = { manifests: 'manifests/', files: 'files/' };
const ctx: RenderContext = {
  params: {
    namespace: 'dev',
    replicas: 3,
    ratio: 0.25,
    enabled: true,
    off: false,
    labels: { team: 'web', 'app.kubernetes.io/part-of': 'shop' },
    hosts: ['a.example.com', 'b.example.com'],
    nested: { list: [1, { x: null }], empty: {} },
    tricky: 'yes: no # not a comment',
    version: '1.10',
    multi: 'line one\nline two',
  },
  promote: { stage: 'development', environment: 'dev', cluster: 'dev-1', digest: 'sha256:' + 'a'.repeat(64) },
};

function render(text: string, path = 'manifests/m.yaml'): RenderedFile {
  const out = renderFiles([{ path, content: enc(text) }], layout, ctx);
  assert.equal(out.length, 1);
  return out[0]!;
}

function failure(files: SourceFile[]): PromoteError {
  try {
    renderFiles(files, layout, ctx);
  } catch (err) {
    assert.ok(isPromoteError(err, 'RENDER_FAILED'), String(err));
    return err;
  }
  assert.fail('expected RENDER_FAILED');
}

/** What a YAML consumer reads back from the rendered text must be what the agent applies. */
function reparsed(f: RenderedFile): unknown[] {
  return parseAllDocuments(f.content as string).map((d) => d.toJS()).filter((d) => d !== null);
}

test('typed substitution round-trips numbers, booleans, objects and lists', () => {
  const f = render('a: ${params.replicas}\nb: ${params.ratio}\nc: ${params.enabled}\nd: ${params.off}\ne: ${params.labels}\nf: ${params.hosts}\ng: ${params.nested}\nh: ${params.version}\n');
  const expected = { a: 3, b: 0.25, c: true, d: false, e: ctx.params.labels, f: ctx.params.hosts, g: ctx.params.nested, h: '1.10' };
  assert.deepEqual(f.documents, [expected]);
  assert.deepEqual(reparsed(f), [expected]);
  assert.equal(f.content, 'a: 3\nb: 0.25\nc: true\nd: false\ne: {team: web, app.kubernetes.io/part-of: shop}\nf: [a.example.com, b.example.com]\ng: {list: [1, {x: null}], empty: {}}\nh: "1.10"\n');
});

test('typed values work in block sequences; inside flow collections references are quoted', () => {
  const f = render('items:\n  - ${params.replicas}\n  - ${params.labels}\nflow: [x, "${params.namespace}"]\n');
  assert.deepEqual(f.documents, [{ items: [3, ctx.params.labels], flow: ['x', 'dev'] }]);
  assert.deepEqual(reparsed(f), f.documents);
  // Unquoted, `{` ends a plain scalar in a flow collection: a YAML error, with a hint.
  const err = failure([{ path: 'manifests/f.yaml', content: enc('flow: [x, ${params.namespace}]\n') }]);
  assert.match(err.problems[0]!.hint ?? '', /write references in quotes/);
});

test('a quoted scalar stays a string; references inside longer strings take the text', () => {
  const f = render('port: "${params.replicas}"\nsingle: \'${params.enabled}\'\nurl: https://${params.namespace}.example.com:${params.replicas}/\nmsg: ${params.tricky} ok\n');
  const expected = { port: '3', single: 'true', url: 'https://dev.example.com:3/', msg: 'yes: no # not a comment ok' };
  assert.deepEqual(f.documents, [expected]);
  assert.deepEqual(reparsed(f), [expected]);
});

test('built-ins render: stage, environment, cluster, digest', () => {
  const f = render('s: ${promote.stage}\ne: ${promote.environment}\nc: ${promote.cluster}\nd: ${promote.digest}\n');
  assert.deepEqual(f.documents, [{ s: 'development', e: 'dev', c: 'dev-1', d: `sha256:${'a'.repeat(64)}` }]);
});

test('a shell script in a ConfigMap survives byte for byte; only promote references change', () => {
  const script = [
    '#!/bin/sh',
    'set -eu',
    'echo "${HOME} $HOME ${VAR:-default} ${#ARR[@]} ${params} $${NOT_OURS} ${PARAMS.x}"',
    "awk '{ print $1 }' /etc/hosts",
    'exit ${CODE}',
    '',
  ].join('\n');
  const indented = script.split('\n').map((l) => (l ? `    ${l}` : l)).join('\n');
  const source = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n  namespace: \${params.namespace}\ndata:\n  run.sh: |\n${indented}`;
  const f = render(source);
  assert.equal((f.documents![0] as { data: Record<string, string> }).data['run.sh'], script);
  assert.equal(f.content, source.replace('${params.namespace}', 'dev'));
});

test('references inside a literal block are substituted in place; multi-line values keep the indentation', () => {
  const f = render('data:\n  app.conf: |\n    host = ${params.namespace}.svc\n    banner = ${params.multi}\n    keep = ${USER}\n');
  const conf = 'host = dev.svc\nbanner = line one\nline two\nkeep = ${USER}\n';
  assert.deepEqual(f.documents, [{ data: { 'app.conf': conf } }]);
  assert.deepEqual(reparsed(f), f.documents);
});

test('$${params.x} escapes to the literal text ${params.x}', () => {
  const f = render('a: $${params.namespace}\nb: "cost: $${promote.stage} and ${params.namespace}"\n');
  assert.deepEqual(f.documents, [{ a: '${params.namespace}', b: 'cost: ${promote.stage} and dev' }]);
  assert.deepEqual(reparsed(f), f.documents);
});

test('comments, key order, quoting and untouched lines are kept exactly', () => {
  const source = '# leading comment\nz: 1   # trailing\na:\n  - "quoted"   # keep\n  - ${params.namespace}\nm: {k: v}\n---\n# second document\nkind: Other\n';
  const f = render(source);
  assert.equal(f.content, source.replace('${params.namespace}', 'dev'));
  assert.equal(f.documents!.length, 2);
});

test('non-YAML text under manifests/ gets the same substitution; files/ and binaries are verbatim', () => {
  const out = renderFiles(
    [
      { path: 'manifests/nginx.conf', content: enc('server_name ${params.namespace}.example.com;\nset $x ${remote_addr};\n') },
      { path: 'manifests/logo.png', content: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0, 0x24, 0x7b]) },
      { path: 'files/raw.txt', content: enc('${params.namespace}\n') },
      { path: 'bundle.yaml', content: enc('not rendered') },
    ],
    layout,
    ctx,
  );
  assert.deepEqual(out.map((f) => [f.path, f.kind]), [['files/raw.txt', 'verbatim'], ['manifests/logo.png', 'verbatim'], ['manifests/nginx.conf', 'text']]);
  assert.equal(out[2]!.content, 'server_name dev.example.com;\nset $x ${remote_addr};\n');
  assert.equal(Buffer.from(out[0]!.content as Uint8Array).toString(), '${params.namespace}\n');
});

test('an object inside a longer string is an error with file:line:column', () => {
  const err = failure([{ path: 'manifests/a.yaml', content: enc('a: 1\nb: "x-${params.labels}"\n') }]);
  assert.deepEqual(err.problems.map((p) => [p.file, p.line, p.column, p.rule]), [['manifests/a.yaml', 2, 7, 'reference']]);
  assert.match(err.problems[0]!.message, /\$\{params\.labels\} is an object; only a string, number or boolean can be part of a longer string/);
});

test('a reference without a value fails instead of rendering an empty string; all problems at once', () => {
  const err = failure([
    { path: 'manifests/a.yaml', content: enc('a: ${params.missing}\nb: ${params.labels.nope}\nc: ${promote.region}\nd: ${params.a..b}\n') },
    { path: 'manifests/b.txt', content: enc('\n\n  x=${params.gone}\n') },
  ]);
  assert.deepEqual(err.problems.map((p) => [p.file, p.line, p.column]), [
    ['manifests/a.yaml', 1, 4],
    ['manifests/a.yaml', 2, 4],
    ['manifests/a.yaml', 3, 4],
    ['manifests/a.yaml', 4, 4],
    ['manifests/b.txt', 3, 5],
  ]);
  assert.match(err.problems[0]!.message, /parameter "missing" has no value/);
  assert.match(err.problems[2]!.message, /is not a built-in/);
  assert.match(err.problems[3]!.message, /is not a reference/);
});

test('a missing built-in (no cluster given) is an error, not an empty string', () => {
  assert.throws(
    () => renderFiles([{ path: 'manifests/a.yaml', content: enc('c: ${promote.cluster}\n') }], layout, { params: {}, promote: { environment: 'dev' } }),
    (err: PromoteError) => /no cluster was given/.test(err.problems[0]!.message),
  );
});

test('output is deterministic: same input, same bytes, files in byte order of their paths', () => {
  const files = [
    { path: 'manifests/b.yaml', content: enc('b: ${params.replicas}\n') },
    { path: 'manifests/a.yaml', content: enc('a: ${params.labels}\n') },
    { path: 'manifests/Z.yaml', content: enc('z: 1\n') },
  ];
  const one = renderFiles(files, layout, ctx);
  const two = renderFiles([...files].reverse(), layout, ctx);
  assert.deepEqual(one, two);
  assert.deepEqual(one.map((f) => f.path), ['manifests/Z.yaml', 'manifests/a.yaml', 'manifests/b.yaml']);
  assert.equal(toYamlStream(one), '---\n# Source: manifests/Z.yaml\nz: 1\n---\n# Source: manifests/a.yaml\na: {team: web, app.kubernetes.io/part-of: shop}\n---\n# Source: manifests/b.yaml\nb: 3\n');
});

test('YAML errors in a manifest (syntax, duplicate keys) are reported with positions', () => {
  const err = failure([{ path: 'manifests/a.yaml', content: enc('a: 1\na: 2\nb: [\n') }]);
  assert.ok(err.problems.some((p) => p.rule === 'duplicate-key' && p.line === 2 && p.column === 1));
  assert.ok(err.problems.some((p) => p.rule === 'yaml-syntax'));
});

test('a rendered string that YAML 1.1 (kubectl) or 1.2 would read as another type is quoted', () => {
  const values = ['yes', 'off', 'y', '0755', '1_000', '12:30', '1.0', 'true', 'null', '~', '0x1F', '.inf', '007', '{a', '[b]', ',c', '*d', '- e'];
  for (const v of values) {
    const f = renderFiles([{ path: 'manifests/a.yaml', content: enc('a: ${params.v}\n') }], layout, { params: { v }, promote: {} })[0]!;
    assert.equal(f.content, `a: ${JSON.stringify(v)}\n`, v);
    assert.deepEqual(f.documents, [{ a: v }]);
  }
  // Inside a longer plain string nothing needs quoting.
  const f = renderFiles([{ path: 'manifests/a.yaml', content: enc('b: x${params.v}\n') }], layout, { params: { v: 'yes' }, promote: {} })[0]!;
  assert.equal(f.content, 'b: xyes\n');
});

test('what the text says and what the agent applies agree, for tricky strings in every scalar style', () => {
  const tricky = ['plain', 'with space', 'a: b', 'x #y', "it's", 'say "hi"', 'back\\slash', 'tab\there', 'line\nbreak', ' lead', 'trail ', 'ünïcødé ✓', '', '#', '@at', '%pct', '`tick`', '{}', '[1, 2]', 'a,b'];
  const positions = [
    { source: 'v: ${params.s}\n', expect: (s: string) => s },
    { source: 'v: pre-${params.s}-post\n', expect: (s: string) => `pre-${s}-post` },
    { source: 'v: "q ${params.s}"\n', expect: (s: string) => `q ${s}` },
    { source: "v: 'q ${params.s}'\n", expect: (s: string) => `q ${s}` },
    { source: 'v: [a, "${params.s}"]\n', expect: (s: string) => ['a', s] },
    { source: 'v: |\n  x=${params.s}\n  end\n', expect: (s: string) => `x=${s}\nend\n` },
  ];
  for (const s of tricky) {
    for (const pos of positions) {
      const f = renderFiles([{ path: 'manifests/t.yaml', content: enc(pos.source) }], layout, { params: { s }, promote: {} })[0]!;
      const expected = [{ v: pos.expect(s) }];
      assert.deepEqual(f.documents, expected, `${JSON.stringify(s)} in ${JSON.stringify(pos.source)}`);
      assert.deepEqual(reparsed(f), expected, `${JSON.stringify(s)} in ${JSON.stringify(pos.source)} → ${JSON.stringify(f.content)}`);
    }
  }
});
