import type { Problem } from '../errors.ts';
import { compileExpression, isSyntaxError, type CompiledExpression } from '../cel/expression.ts';

// A policy rule, written like one validation of a Kubernetes ValidatingAdmissionPolicy together
// with its matchConstraints, flattened into one item: what it applies to (`match`), a CEL
// `expression` that must be true for every object it matches, and the `message` a violation
// shows. Expressions see `object` (the rendered object) and `promote` (stage, cluster, digest:
// policy/evaluate.ts binds them); naming anything else is a compile error, found when the rule is read.
// Compiling needs the CEL library loaded (loadCel) first.

/** The variables a rule's expression may use. */
export const RULE_VARIABLES = ['object', 'promote'] as const;

/** Which objects a rule judges: every list given must contain the object's value ("*" matches any). */
export interface RuleMatch {
  /** `apps/v1`, `v1`, or a group with any version: `apps/*`. */
  apiVersions?: string[];
  kinds?: string[];
  namespaces?: string[];
  names?: string[];
}

export interface PolicyRule {
  name: string;
  match: RuleMatch;
  expression: CompiledExpression;
  /** What a violation says; default, as a ValidatingAdmissionPolicy says it: `failed expression: <expression>`. */
  message?: string;
}

/** Reports a problem at a JSON pointer below the rules (the caller places it in its file). */
export type RuleProblem = (pointer: string, problem: Omit<Problem, 'pointer' | 'file' | 'line' | 'column'>) => void;

const RULE_NAME = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;
const RULE_FIELDS = ['name', 'match', 'expression', 'message'];
const MATCH_FIELDS = ['apiVersions', 'kinds', 'namespaces', 'names'] as const;
/** Bounds what a policy costs to read and to judge with (every rule runs over every object). */
export const MAX_RULES = 200;
const MAX_EXPRESSION = 4096;
const MAX_MESSAGE = 512;

const matchSchema = { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } };

/** The JSON Schema of a rules list (the gate's `rules`, a Policy file's `spec.rules`). */
export const RULES_SCHEMA = {
  type: 'array',
  minItems: 1,
  maxItems: MAX_RULES,
  items: {
    type: 'object',
    required: ['name', 'expression'],
    additionalProperties: false,
    properties: {
      name: { type: 'string', pattern: RULE_NAME.source, description: 'Names the rule in every violation.' },
      match: {
        type: 'object',
        additionalProperties: false,
        description: 'Which objects the rule judges (default: all). Every list given must contain the object\'s value; "*" matches any.',
        properties: {
          apiVersions: { ...matchSchema, description: 'e.g. apps/v1, v1, or apps/* for any version of a group.' },
          kinds: { ...matchSchema, description: 'e.g. Deployment.' },
          namespaces: { ...matchSchema, description: 'metadata.namespace; an object without one is always matched.' },
          names: { ...matchSchema, description: 'metadata.name.' },
        },
      },
      expression: { type: 'string', minLength: 1, maxLength: MAX_EXPRESSION, description: 'CEL over `object` and `promote` that must be true.' },
      message: { type: 'string', minLength: 1, maxLength: MAX_MESSAGE, description: 'What a violation says.' },
    },
  },
} as const;

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function parseMatch(raw: unknown, at: string, report: RuleProblem): RuleMatch | undefined {
  if (raw === undefined) return {};
  if (!isMap(raw)) {
    report(at, { message: 'match is a mapping', rule: 'type', expected: '{apiVersions?, kinds?, namespaces?, names?}', actual: JSON.stringify(raw) });
    return undefined;
  }
  let ok = true;
  const match: RuleMatch = {};
  for (const key of Object.keys(raw)) {
    if (!(MATCH_FIELDS as readonly string[]).includes(key)) {
      report(`${at}/${key}`, {
        message: `unknown match field "${key}"`,
        rule: 'additionalProperties',
        expected: MATCH_FIELDS.join(', '),
        ...(/selector/i.test(key) && { hint: 'rendered objects are matched by apiVersion, kind, namespace and name; label selectors are not supported' }),
      });
      ok = false;
    }
  }
  for (const key of MATCH_FIELDS) {
    const list = raw[key];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.length === 0 || list.some((s) => typeof s !== 'string' || s === '')) {
      report(`${at}/${key}`, { message: `match.${key} is a list of non-empty strings`, rule: 'type', expected: key === 'kinds' ? 'e.g. [Deployment, StatefulSet]' : 'e.g. ["*"]', actual: JSON.stringify(list) });
      ok = false;
      continue;
    }
    match[key] = list as string[];
  }
  return ok ? match : undefined;
}

/**
 * Parses and compiles a rules list (`pointer` is where it is), reporting every problem: fields,
 * duplicate names, and each expression that is not CEL at its own pointer (with the column in
 * the expression). Returns undefined when anything is wrong.
 */
export function parseRules(raw: unknown, pointer: string, report: RuleProblem): PolicyRule[] | undefined {
  if (!Array.isArray(raw) || raw.length === 0) {
    report(pointer, { message: 'rules is a non-empty list', rule: 'type', expected: '[{name, match?, expression, message?}]', actual: JSON.stringify(raw) });
    return undefined;
  }
  if (raw.length > MAX_RULES) {
    report(pointer, { message: `${raw.length} rules, over the ${MAX_RULES} a policy may hold`, rule: 'maxItems', expected: `at most ${MAX_RULES}` });
    return undefined;
  }
  const rules: PolicyRule[] = [];
  const seen = new Map<string, number>();
  let ok = true;
  raw.forEach((item: unknown, i: number) => {
    const at = `${pointer}/${i}`;
    if (!isMap(item)) {
      report(at, { message: 'a rule is a mapping', rule: 'type', expected: '{name, match?, expression, message?}' });
      ok = false;
      return;
    }
    for (const key of Object.keys(item)) {
      if (RULE_FIELDS.includes(key)) continue;
      report(`${at}/${key}`, {
        message: `unknown rule field "${key}"`,
        rule: 'additionalProperties',
        expected: RULE_FIELDS.join(', '),
        ...(key === 'messageExpression' && { hint: 'a message is fixed text: a message computed from the object would be recorded in the ledger, and an object may hold what must not be' }),
      });
      ok = false;
    }
    const name = item.name;
    if (typeof name !== 'string' || !RULE_NAME.test(name)) {
      report(`${at}/name`, { message: 'a rule needs a name', rule: 'pattern', expected: 'lower-case letters, digits, "-" and ".", at most 63', actual: JSON.stringify(name) });
      ok = false;
    } else if (seen.has(name)) {
      report(`${at}/name`, { message: `rule "${name}" is named twice (first at ${pointer}/${seen.get(name)})`, rule: 'unique', expected: 'a name of its own per rule' });
      ok = false;
    } else seen.set(name, i);
    const match = parseMatch(item.match, `${at}/match`, report);
    if (!match) ok = false;
    const message = item.message;
    if (message !== undefined && (typeof message !== 'string' || message.trim() === '' || message.length > MAX_MESSAGE)) {
      report(`${at}/message`, { message: 'message is what a violation says', rule: 'type', expected: `a non-empty string of at most ${MAX_MESSAGE} characters` });
      ok = false;
    }
    const source = item.expression;
    if (typeof source !== 'string' || source.trim() === '' || source.length > MAX_EXPRESSION) {
      report(`${at}/expression`, { message: 'a rule needs an expression', rule: 'type', expected: `CEL over object and promote, at most ${MAX_EXPRESSION} characters, e.g. "object.spec.replicas >= 2"` });
      ok = false;
      return;
    }
    const compiled = compileExpression(source, RULE_VARIABLES);
    if (isSyntaxError(compiled)) {
      const where = compiled.column !== undefined ? ` at column ${compiled.column} of the expression` : '';
      report(`${at}/expression`, { message: `the expression is not valid CEL${where}: ${compiled.message}`, rule: 'cel', expected: 'a CEL expression over object and promote that gives true or false', hint: 'CEL as a ValidatingAdmissionPolicy writes it: https://kubernetes.io/docs/reference/using-api/cel/' });
      ok = false;
      return;
    }
    if (ok) rules.push({ name: name as string, match: match!, expression: compiled, ...(typeof message === 'string' && { message }) });
  });
  return ok ? rules : undefined;
}

/** The rules as written (for evidence and JSON): the expression's source, not the compiled program. */
export function describeRule(rule: PolicyRule): { name: string; match: RuleMatch; expression: string; message?: string } {
  return { name: rule.name, match: rule.match, expression: rule.expression.source, ...(rule.message !== undefined && { message: rule.message }) };
}
