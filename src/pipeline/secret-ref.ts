import type { ReportProblem, SchemaFragment, SecretRef } from './gate.ts';
import { isMap } from './document-shapes.ts';

// `secretFrom: {env: NAME}` or `secretFrom: {file: path}`: how a pipeline names a secret (a
// bearer token, a header value, a webhook's HMAC key) without holding it. The value is read
// only where it is used (the engine's GateFacts.secret, the notifier) and goes nowhere else.

export type { SecretRef };

export const SECRET_REF_SCHEMA: SchemaFragment = {
  description: 'Where the secret is read from: an environment variable, or a file relative to the project root. Never the value itself.',
  oneOf: [
    { type: 'object', properties: { env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' } }, required: ['env'], additionalProperties: false },
    { type: 'object', properties: { file: { type: 'string', minLength: 1 } }, required: ['file'], additionalProperties: false },
  ],
};

/** Parses a `{env}` / `{file}` mapping at `pointer`; reports and returns undefined when it is not one. */
export function parseSecretRef(raw: unknown, pointer: string, report: ReportProblem): SecretRef | undefined {
  const expected = '{env: VARIABLE_NAME} or {file: path/to/secret}';
  if (!isMap(raw) || Object.keys(raw).length !== 1) {
    report(pointer, { message: 'a secret is named by where it is read from, never written here', rule: 'secret-ref', expected, ...(typeof raw === 'string' && { hint: 'put the value in an environment variable or a file outside the repository and name that' }) });
    return undefined;
  }
  if (typeof raw.env === 'string') {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(raw.env)) return { env: raw.env };
    report(`${pointer}/env`, { message: 'env names an environment variable', rule: 'secret-ref', expected: 'letters, digits and _, not starting with a digit', actual: JSON.stringify(raw.env) });
    return undefined;
  }
  if (typeof raw.file === 'string' && raw.file.trim()) return { file: raw.file.trim() };
  report(pointer, { message: 'a secret is read from an environment variable or a file', rule: 'secret-ref', expected, actual: JSON.stringify(Object.keys(raw)) });
  return undefined;
}

/** How a secret's source is shown (messages, evidence): `env PROMOTE_TOKEN`, `file secrets/token`. */
export function describeSecretRef(ref: SecretRef): string {
  return 'env' in ref ? `env ${ref.env}` : `file ${ref.file}`;
}
