import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PromoteError, type ErrorCode } from '../errors.ts';
import { isDirectory, requireBundleFile } from './bundle-dir.ts';
import { parseYaml, readYamlFile, type ParsedDocument } from '../params/document.ts';
import { validateProjectDocument } from '../params/project-schemas.ts';
import { parameterSchema } from '../params/parameter-schema.ts';

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
  /** Bundle-relative directory rendered with parameters. */
  manifests: string;
  /** Bundle-relative directory shipped verbatim. */
  files?: string;
  allowSecrets: boolean;
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
  spec: { parameters: string; manifests: string; files?: string; allowSecrets: boolean };
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

/** Reads and checks `<dir>/bundle.yaml`; throws with every problem when it is not valid. */
export async function loadBundleFile(dir: string): Promise<LoadedBundleFile> {
  const file = await requireBundleFile(dir);
  const doc = await readYamlFile(file);
  validateProjectDocument('bundle', doc);
  const value = doc.value as BundleDocument;
  const spec: BundleSpec = {
    name: value.metadata.name,
    ...(value.metadata.description !== undefined && { description: value.metadata.description }),
    parameters: value.spec.parameters,
    manifests: value.spec.manifests,
    ...(value.spec.files !== undefined && { files: value.spec.files }),
    allowSecrets: value.spec.allowSecrets,
  };
  if ((await isDirectory(join(dir, spec.manifests))) !== true) {
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
