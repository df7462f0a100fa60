import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { copyFixture, tempDir } from '../bundle/helpers.ts';
import { promote } from './run-promote.ts';

// Issue 12 §17: a string parameter must reach every YAML reader as a string. kubectl and many
// controllers read YAML 1.1, where yes/no/on/off are booleans, 0x50, 1_000 and 1.10 numbers and
// 2024-01-01 a timestamp. The real CLI renders; the output is re-read with the 1.1 schema.

const TRICKY = ['yes', 'no', 'on', 'Off', 'y', 'N', '1.10', '0x50', '0x_5_0', '+0x50', '1_000', '0755', '0b101', '190:20:30', '2024-01-01', '2001-12-14t21:59:43.10-05:00', '1.2.3', '.5', '~', 'null', '<<', '=', '1e3', '.inf', 'true', 'plain'];

test('render quotes every string a YAML 1.1 or 1.2 reader would type otherwise: top-level, nested in objects and lists, and keys', async () => {
  await using tmp = await tempDir();
  const dir = await copyFixture(tmp.path);
  await writeFile(
    join(dir, 'params.schema.json'),
    JSON.stringify({
      type: 'object',
      required: ['namespace'],
      properties: {
        namespace: { type: 'string' },
        replicas: { type: 'integer', default: 1 },
        flag: { type: 'string' },
        labels: { type: 'object', additionalProperties: { type: 'string' } },
        list: { type: 'array', items: { type: 'string' } },
        nested: { type: 'object', properties: { deep: { type: 'array', items: { type: 'object', additionalProperties: { type: 'string' } } } } },
      },
    }),
  );
  await writeFile(
    join(dir, 'manifests', 'config.yaml'),
    'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tricky\n  labels: ${params.labels}\ndata:\n  flag: ${params.flag}\n  list: ${params.list}\n  nested: ${params.nested}\n  ${params.flag}: as a key\n',
  );
  const labels = Object.fromEntries(TRICKY.map((s, i) => [s, TRICKY[(i + 1) % TRICKY.length]!]));
  const nested = { deep: [Object.fromEntries(TRICKY.map((s) => [s, s]))] };
  await mkdir(join(dir, 'environments'));
  for (const flag of ['yes', 'on', '0x50', '1.10', '2024-01-01']) {
    await writeFile(join(dir, 'environments', 'dev.yaml'), JSON.stringify({ apiVersion: 'promote/v1', kind: 'Environment', metadata: { name: 'dev' }, spec: { parameters: { namespace: 'dev', flag, labels, list: TRICKY, nested } } }));
    const r = await promote(['render', dir, '--env', 'dev']);
    assert.equal(r.code, 0, r.stderr);
    for (const version of ['1.1', '1.2'] as const) {
      const docs = parseAllDocuments(r.stdout, { version }).map((d) => d.toJS());
      const cm = docs.find((d) => d?.metadata?.name === 'tricky');
      assert.ok(cm, r.stdout);
      assert.deepEqual(cm.metadata.labels, labels, `${version}: nested values and keys stay strings`);
      assert.deepEqual(cm.data.list, TRICKY, `${version}: list items stay strings`);
      assert.deepEqual(cm.data.nested, nested, `${version}: deeper nesting too`);
      assert.equal(cm.data.flag, flag, `${version}: a top-level value`);
      assert.equal(cm.data[flag], 'as a key', `${version}: a key`);
    }
  }
});
