// Writes the renderer part of schemas/bundle.schema.json (`spec.properties.<kind>` for each
// renderer kind in src/bundle/renderers/kinds.ts): each kind owns its schema fragment. The rest
// of the file is hand-written and kept. Run by `npm run gen:schemas`;
// test/bundle/renderers/kinds.test.ts fails until the committed file is what this writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { RENDERER_KINDS } from '../src/bundle/renderers/kinds.ts';
import { print, type Json } from './gen-pipeline-schema.ts';

export const BUNDLE_SCHEMA = fileURLToPath(new URL('../schemas/bundle.schema.json', import.meta.url));

const GENERATED_NOTE = 'spec.helm and spec.kustomize are generated from the renderer kinds in src/bundle/renderers/ by npm run gen:schemas: edit those, not this.';

export function bundleSchemaText(current: string): string {
  const schema = JSON.parse(current) as { properties: { spec: { properties: Record<string, Json>; $comment?: string } } };
  const spec = schema.properties.spec;
  const kinds = new Set<string>(RENDERER_KINDS.map((k) => k.kind));
  const { $comment: _, ...rest } = spec;
  const hand = Object.fromEntries(Object.entries(rest.properties).filter(([k]) => !kinds.has(k)));
  schema.properties.spec = { $comment: GENERATED_NOTE, ...rest, properties: { ...hand, ...Object.fromEntries(RENDERER_KINDS.map((k) => [k.kind, k.schema as Json])) } } as typeof spec;
  return `${print(schema as unknown as Json, 0, 0)}\n`;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  writeFileSync(BUNDLE_SCHEMA, bundleSchemaText(readFileSync(BUNDLE_SCHEMA, 'utf8')));
  process.stdout.write('wrote schemas/bundle.schema.json\n');
}
