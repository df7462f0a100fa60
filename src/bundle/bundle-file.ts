import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PromoteError, type ErrorCode, type Problem } from '../errors.ts';
import { isDirectory, requireBundleFile } from './bundle-dir.ts';
import { parseYaml, readYamlFile, type ParsedDocument } from '../params/document.ts';
import { validateProjectDocument } from '../params/project-schemas.ts';
import { parameterSchema } from '../params/parameter-schema.ts';
import { RENDERER_KINDS, type RendererSpec } from './renderers/kinds.ts';

// bundle.yaml (DESIGN.md §4): what a bundle directory declares about itself. Loaded and checked
// against schemas/bundle.schema.json (every problem at once, with file:line:column), then the
// paths it names are checked to exist and the parameter schema is compiled — a bundle whose
// contract is broken never gets a digest.

/** A parameter schema is a contract, not data. */
const MAX_SCHEMA_BYTES = 1024 * 1024;

export interface BundleSpec {
  name: string;
  description?: string;
  /** Bundle-relative path of the parameter schema (JSON Schema 2020-12). */
  parameters: string;
  /** Bundle-relative directory rendered with parameters (the chart or kustomization for those renderers). */
  manifests: string;
  /** Bundle-relative directory shipped verbatim. */
  files?: string;
  allowSecrets: boolean;
  /** spec.helm / spec.kustomize, or plain (renderers/kinds.ts). */
  renderer: RendererSpec;
}

export interface LoadedBundleFile {
  dir: string;
  /** Path of bundle.yaml. */
  file: string;
  spec: BundleSpec;
  parameterSchema: object;
  document: ParsedDocument;
}

interface BundleDocument {
  metadata: { name: string; description?: string };
  spec: { parameters: string; manifests: string; files?: string; allowSecrets: boolean } & Record<string, unknown>;
}

/** Where a renderer's input must be: a chart holds Chart.yaml, a kustomization kustomization.yaml. */
const RENDERER_ROOT_FILES: Record<string, string[]> = {
  helm: ['Chart.yaml'],
  kustomize: ['kustomization.yaml', 'kustomization.yml', 'Kustomization'],
};

/** The renderer bundle.yaml declares: at most one of the kinds' keys, and not beside spec.manifests. */
function declaredRenderer(value: BundleDocument, file: string, doc: ParsedDocument, manifestsWritten: boolean): RendererSpec {
  const declared = RENDERER_KINDS.filter((k) => value.spec[k.kind] !== undefined);
  if (declared.length > 1) {
    throw bundleError('BUNDLE_SCHEMA_INVALID', `${file} declares ${declared.map((k) => `spec.${k.kind}`).join(' and ')}: a bundle has one renderer`, 'keep the one that renders this bundle', file, doc, `/spec/${declared[1]!.kind}`);
  }
  const kind = declared[0];
  if (!kind) return { kind: 'plain' };
  if (manifestsWritten) {
    throw bundleError('BUNDLE_SCHEMA_INVALID', `${file} declares both spec.manifests and spec.${kind.kind}: the ${kind.kind} renderer renders its own directory`, `remove spec.manifests (plain manifests go in the ${kind.kind === 'helm' ? "chart's templates/" : 'kustomization\'s resources'})`, file, doc, '/spec/manifests');
  }
  const problems: Problem[] = [];
  const spec = kind.parse(value.spec[kind.kind], `/spec/${kind.kind}`, (p) => problems.push({ file, ...p }));
  if (!spec) {
    const first = problems[0]!;
    throw bundleError('BUNDLE_SCHEMA_INVALID', `${file}: ${first.message}`, `see docs/renderers.md for spec.${kind.kind}`, file, doc, first.pointer);
  }
  return spec;
}


function bundleError(code: ErrorCode, message: string, hint: string, file: string, doc?: ParsedDocument, pointer?: string): PromoteError {
  const at = doc && pointer !== undefined ? doc.locate(pointer) : undefined;
  return new PromoteError(code, message, {
    outcome: 'verification',
    hint,
    problems: [{ file, message, ...(pointer !== undefined && { pointer }), ...(at && { line: at.line, column: at.column }) }],
    details: { file },
  });
}

async function readParameterSchema(dir: string, rel: string, bundleFile: string, doc: ParsedDocument): Promise<object> {
  const path = join(dir, rel);
  let info;
  try {
    info = await stat(path);
  } catch {
    throw bundleError(
      'BUNDLE_SCHEMA_MISSING',
      `the parameter schema ${rel} named in ${bundleFile} does not exist`,
      `create ${rel} (a JSON Schema 2020-12 describing the parameters; \`{"type": "object"}\` accepts none yet) or fix spec.parameters`,
      bundleFile,
      doc,
      '/spec/parameters',
    );
  }
  if (!info.isFile() || info.size > MAX_SCHEMA_BYTES) {
    throw bundleError('BUNDLE_SCHEMA_INVALID', `the parameter schema ${path} is not a file of at most 1 MiB`, 'spec.parameters must name a JSON Schema file', path);
  }
  const text = await readFile(path, 'utf8');
  let schema: unknown;
  if (/\.ya?ml$/i.test(rel)) {
    schema = parseYaml(text, path).value;
  } else {
    try {
      schema = JSON.parse(text);
    } catch (err) {
      throw bundleError('BUNDLE_SCHEMA_INVALID', `${path} is not valid JSON: ${(err as Error).message}`, 'fix the JSON syntax of the parameter schema', path);
    }
  }
  if (schema === null || typeof schema !== 'object' || Array.isArray(schema)) {
    throw bundleError('BUNDLE_SCHEMA_INVALID', `${path} is not a JSON Schema object`, 'a parameter schema is a JSON object such as {"type": "object", "properties": {…}}', path);
  }
  // Compiling proves it is a valid schema under the same strict rules every later check uses —
  // compiled as every later check compiles it (promote's rules applied, parameter-schema.ts), so
  // that compile is the one cached, and a build compiles the schema once, not twice.
  parameterSchema(schema, path);
  return schema;
}

/**
 * The parameter schema's path: as bundle.yaml says; for a chart when it says nothing, the chart's
 * own values.schema.json if it ships one (so a typo in a value is caught by `validate`, not by
 * helm at apply time), else the default.
 */
async function parametersFile(dir: string, given: string, renderer: RendererSpec, written: boolean): Promise<string> {
  if (renderer.kind !== 'helm' || written) return given;
  const chartSchema = `${renderer.chart === '.' ? '' : `${renderer.chart}/`}values.schema.json`;
  return (await stat(join(dir, chartSchema)).then((s) => s.isFile(), () => false)) ? chartSchema : given;
}

/** Reads and checks `<dir>/bundle.yaml`; throws with every problem when it is not valid. */
export async function loadBundleFile(dir: string): Promise<LoadedBundleFile> {
  const file = await requireBundleFile(dir);
  const doc = await readYamlFile(file);
  // What bundle.yaml itself says, before schema defaults fill spec in.
  const written = (doc.value as { spec?: unknown } | null)?.spec;
  const says = (key: string) => written !== null && typeof written === 'object' && Object.hasOwn(written, key);
  const explicit = { manifests: says('manifests'), parameters: says('parameters') };
  validateProjectDocument('bundle', doc);
  const value = doc.value as BundleDocument;
  const renderer = declaredRenderer(value, file, doc, explicit.manifests);
  const kind = RENDERER_KINDS.find((k) => k.kind === renderer.kind);
  const spec: BundleSpec = {
    name: value.metadata.name,
    ...(value.metadata.description !== undefined && { description: value.metadata.description }),
    parameters: await parametersFile(dir, value.spec.parameters, renderer, explicit.parameters),
    manifests: kind ? (kind.root as (s: RendererSpec) => string)(renderer) : value.spec.manifests,
    ...(value.spec.files !== undefined && { files: value.spec.files }),
    allowSecrets: value.spec.allowSecrets,
    renderer,
  };
  if (kind) {
    const root = join(dir, spec.manifests);
    const wanted = RENDERER_ROOT_FILES[renderer.kind] ?? [];
    const found = await Promise.all(wanted.map((f) => stat(join(root, f)).then((s) => s.isFile(), () => false)));
    if (!found.some(Boolean)) {
      throw bundleError(
        'BUNDLE_MANIFESTS_MISSING',
        `spec.${renderer.kind} in ${file} names ${spec.manifests}, which holds no ${wanted.join(' or ')}`,
        renderer.kind === 'helm' ? 'point spec.helm.chart at the chart directory (the one with Chart.yaml), inside the bundle directory' : 'point spec.kustomize.path at the directory holding kustomization.yaml, inside the bundle directory',
        file,
        doc,
        renderer.kind === 'helm' ? '/spec/helm/chart' : '/spec/kustomize/path',
      );
    }
  } else if ((await isDirectory(join(dir, spec.manifests))) !== true) {
    throw bundleError(
      'BUNDLE_MANIFESTS_MISSING',
      `the manifests directory ${spec.manifests} named in ${file} does not exist`,
      `create ${spec.manifests} with the bundle's manifests, or fix spec.manifests`,
      file,
      doc,
      '/spec/manifests',
    );
  }
  if (spec.files !== undefined && (await isDirectory(join(dir, spec.files))) !== true) {
    throw bundleError('BUNDLE_FILES_MISSING', `the files directory ${spec.files} named in ${file} does not exist`, 'create it, or remove spec.files', file, doc, '/spec/files');
  }
  const parameterSchema = await readParameterSchema(dir, spec.parameters, file, doc);
  return { dir, file, spec, parameterSchema, document: doc };
}
