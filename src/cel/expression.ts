// CEL, the one expression language of promote (DESIGN.md §4b): `expect` of the http and metrics
// gates and the `expression` of policy rules, as Kubernetes' ValidatingAdmissionPolicy writes
// them. Evaluated by @bufbuild/cel (a maintained implementation of the CEL spec), never by code
// of ours. The library costs ~100 ms to load, so it is loaded only for a pipeline or policy that
// has an expression (`loadCel`), and compiling is synchronous after that, so the pipeline's
// parsers stay synchronous.

type CelModule = typeof import('@bufbuild/cel');

let cel: CelModule | undefined;

/** Loads the CEL library once; compileExpression() needs it loaded. */
export async function loadCel(): Promise<void> {
  cel ??= await import('@bufbuild/cel');
}

/** CEL's type identifiers (`type(x) == int`): names an expression reads that are not variables. */
const TYPE_NAMES = new Set(['bool', 'bytes', 'double', 'duration', 'dyn', 'int', 'list', 'map', 'null_type', 'string', 'timestamp', 'type', 'uint']);

/** A syntax error, where it is in the expression (1-based column), for a Problem at the field's pointer. */
export interface ExpressionSyntaxError {
  message: string;
  column?: number;
}

/** What evaluating gave: a value, or the error CEL raised (no such key, wrong type, …). */
export type EvaluationResult = { ok: true; value: unknown } | { ok: false; error: string };

export interface CompiledExpression {
  /** The expression as written. */
  readonly source: string;
  /** Evaluates with the variables bound; a CEL runtime error is a result, never a throw. */
  evaluate(bindings: Record<string, unknown>): EvaluationResult;
  /** evaluate(), and a result that is not a bool is an error too: what gates and rules need. */
  test(bindings: Record<string, unknown>): { ok: true; value: boolean } | { ok: false; error: string };
}

/**
 * Compiles `source`, or returns why it is not CEL. `variables` are the names the expression may
 * use (e.g. `object`, `response`, `value`); naming another is a compile error, as it is for a
 * ValidatingAdmissionPolicy, so a typo is found by `promote validate` rather than at run time.
 */
export function compileExpression(source: string, variables: readonly string[]): CompiledExpression | ExpressionSyntaxError {
  if (!cel) throw new Error('compileExpression before loadCel()');
  const lib = cel;
  let parsed: ReturnType<CelModule['parse']>;
  try {
    parsed = lib.parse(source);
  } catch (err) {
    return syntaxError(err);
  }
  const unknown = freeIdentifiers(parsed.expr).filter((name) => !variables.includes(name) && !TYPE_NAMES.has(name));
  if (unknown.length) {
    return { message: `unknown variable ${unknown.map((n) => `"${n}"`).join(', ')}: this expression can use ${variables.join(', ')}` };
  }
  const program = lib.plan(lib.celEnv(), parsed);
  const evaluate = (bindings: Record<string, unknown>): EvaluationResult => {
    let value: unknown;
    try {
      value = program(bindings as Parameters<typeof program>[0]);
    } catch (err) {
      return { ok: false, error: err instanceof Error ? err.message : String(err) };
    }
    if (lib.isCelError(value)) return { ok: false, error: value.message };
    return { ok: true, value: plain(lib, value) };
  };
  return {
    source,
    evaluate,
    test(bindings) {
      const r = evaluate(bindings);
      if (!r.ok) return r;
      if (typeof r.value !== 'boolean') return { ok: false, error: `the expression gave ${describe(r.value)}, not true or false` };
      return { ok: true, value: r.value };
    },
  };
}

export function isSyntaxError(c: CompiledExpression | ExpressionSyntaxError): c is ExpressionSyntaxError {
  return !('evaluate' in c);
}

function syntaxError(err: unknown): ExpressionSyntaxError {
  // The parser throws a peggy error: `rawMessage`, and `location.start.column` (1-based).
  const e = err as { rawMessage?: string; location?: { start?: { column?: number } }; message?: string };
  const message = e.rawMessage ?? String(e.message ?? err).replace(/^<input>:\d+:\d+: /, '');
  const column = e.location?.start?.column;
  return { message, ...(typeof column === 'number' && { column }) };
}

/**
 * The identifiers an expression reads that no comprehension (`all`, `exists`, `map`, …) binds:
 * the variables it needs from outside. Walks the parsed AST (cel.expr.Expr).
 */
function freeIdentifiers(expr: unknown): string[] {
  const found = new Set<string>();
  const walk = (e: unknown, bound: ReadonlySet<string>): void => {
    const kind = (e as { exprKind?: { case?: string; value?: Record<string, unknown> } } | undefined)?.exprKind;
    if (!kind?.case || !kind.value) return;
    const v = kind.value;
    switch (kind.case) {
      case 'identExpr':
        if (!bound.has(v.name as string)) found.add(v.name as string);
        return;
      case 'selectExpr':
        return walk(v.operand, bound);
      case 'callExpr':
        if (v.target) walk(v.target, bound);
        for (const a of (v.args as unknown[]) ?? []) walk(a, bound);
        return;
      case 'listExpr':
        for (const el of (v.elements as unknown[]) ?? []) walk(el, bound);
        return;
      case 'structExpr':
        for (const entry of (v.entries as { mapKey?: unknown; value?: unknown }[]) ?? []) {
          if (entry.mapKey) walk(entry.mapKey, bound);
          walk(entry.value, bound);
        }
        return;
      case 'comprehensionExpr': {
        walk(v.iterRange, bound);
        walk(v.accuInit, bound);
        const inner = new Set([...bound, v.iterVar as string, v.accuVar as string, ...(v.iterVar2 ? [v.iterVar2 as string] : [])]);
        walk(v.loopCondition, inner);
        walk(v.loopStep, inner);
        walk(v.result, inner);
        return;
      }
      default:
        return;
    }
  };
  walk(expr, new Set());
  return [...found];
}

/** A CEL value as plain JSON-able data, for evidence. */
function plain(lib: CelModule, value: unknown): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (lib.isCelUint(value)) return Number(value.value);
  if (lib.isCelList(value)) return [...value].map((v) => plain(lib, v));
  if (lib.isCelMap(value)) return Object.fromEntries([...value].map(([k, v]) => [String(k), plain(lib, v)]));
  return value;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  return `a ${Array.isArray(value) ? 'list' : typeof value}`;
}
