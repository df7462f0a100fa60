// Writes the gate part of schemas/pipeline.schema.json (`$defs.gate.properties`) from the gate
// kinds (src/pipeline/gates/kinds.ts): each kind owns its schema fragment, so a new kind never
// touches the schema by hand. The rest of the file is hand-written and kept as it is; the whole
// file is printed in one layout: a leaf (an object of plain values) on one line, anything else
// on one line when it fits in WIDTH columns.
// Run by `npm run gen:schemas`; test/scripts/gen-pipeline-schema.test.ts fails until the
// committed file is what this writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { GATE_KINDS } from '../src/pipeline/gates/kinds.ts';

export const PIPELINE_SCHEMA = fileURLToPath(new URL('../schemas/pipeline.schema.json', import.meta.url));

const WIDTH = 120;
const GENERATED_NOTE = 'Generated from the gate kinds in src/pipeline/gates/ by npm run gen:schemas: edit those, not this.';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The schema file `current` should be: its hand-written part, and the gates of the kinds. */
export function pipelineSchemaText(current: string): string {
  const schema = JSON.parse(current) as { $defs: { gate: Record<string, Json> } };
  const { $comment: _, ...gate } = schema.$defs.gate;
  schema.$defs.gate = { $comment: GENERATED_NOTE, ...gate, properties: Object.fromEntries(GATE_KINDS.map((k) => [k.type, k.schema as Json])) };
  return `${print(schema as unknown as Json, 0, 0)}\n`;
}

function inline(value: Json): string {
  if (Array.isArray(value)) return `[${value.map(inline).join(', ')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    return entries.length ? `{ ${entries.map(([k, v]) => `${JSON.stringify(k)}: ${inline(v)}`).join(', ')} }` : '{}';
  }
  return JSON.stringify(value);
}

function isLeaf(value: Json): boolean {
  const scalar = (v: Json) => v === null || typeof v !== 'object';
  const plain = (v: Json) => scalar(v) || (Array.isArray(v) ? v.every(scalar) : Object.keys(v).length === 0);
  return !Array.isArray(value) && value !== null && typeof value === 'object' && Object.values(value).every(plain);
}

/** `value` at `indent`, after `prefix` characters already on its line (its key). */
export function print(value: Json, indent: number, prefix: number): string {
  const flat = inline(value);
  if (value === null || typeof value !== 'object' || isLeaf(value) || indent + prefix + flat.length + 1 <= WIDTH) return flat;
  const pad = ' '.repeat(indent + 2);
  const close = ' '.repeat(indent);
  if (Array.isArray(value)) return `[\n${value.map((v) => pad + print(v, indent + 2, 0)).join(',\n')}\n${close}]`;
  const lines = Object.entries(value).map(([k, v]) => {
    const key = `${JSON.stringify(k)}: `;
    return pad + key + print(v, indent + 2, key.length);
  });
  return `{\n${lines.join(',\n')}\n${close}}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(PIPELINE_SCHEMA, pipelineSchemaText(readFileSync(PIPELINE_SCHEMA, 'utf8')));
  process.stdout.write('wrote schemas/pipeline.schema.json\n');
}
