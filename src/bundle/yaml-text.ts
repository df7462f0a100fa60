import { isScalar, isSeq, parseDocument } from 'yaml';

// How the renderer writes a parameter value into YAML source: one line that every reader we
// know (YAML 1.1 and 1.2) reads back as exactly that value. Its own file because the quoting
// rules are a concept of their own (issue 12 §17) and the renderers of issue 15 share them.

// Plain scalars that are not strings: YAML 1.2 core (how promote reads manifests), plus what
// YAML 1.1 reads as booleans, numbers, timestamps or merge/value keys (kubectl's parser and many
// controllers'): a rendered string that looks like one of these is quoted, so every consumer
// reads the same string (issue 12 §17). The 1.1 patterns are the spec's own
// (yaml.org/type/{bool,int,float,null,timestamp,merge,value}.html), which some readers apply
// more loosely ("1.2.3" is a float by the letter of float.html): quoting a string too many is
// harmless, one too few is not.
const CORE_NON_STRING = /^(?:~|null|Null|NULL|true|True|TRUE|false|False|FALSE|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/;
const YAML11_NON_STRING = /^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|[-+]?0b[01_]+|[-+]?0x[0-9a-fA-F_]+|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?|[-+]?[0-9][0-9_]*(?:\.[0-9_.]*)?(?:[eE][-+]?[0-9]+)?|[-+]?(?:[0-9][0-9_]*)?\.[0-9_.]*(?:[eE][-+]?[0-9]+)?|=|<<)$/;
const YAML11_TIMESTAMP = /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::?[0-9]{2})?))?)?$/;

/** Does every YAML reader we know read `text` back as exactly the string `s` (yaml's 1.1 and 1.2 schemas)? */
function readsBackAs(text: string, s: string, flow: boolean): boolean {
  for (const version of ['1.1', '1.2'] as const) {
    const doc = parseDocument(flow ? `[${text}]` : text, { version });
    if (doc.errors.length || doc.warnings.length) return false;
    const node = flow ? (isSeq(doc.contents) && doc.contents.items.length === 1 ? doc.contents.items[0] : undefined) : doc.contents;
    if (!isScalar(node) || node.value !== s) return false;
  }
  return true;
}

/** Can `s` be written as a plain scalar (in block or, if `flow`, flow context) and read back as this string? */
export function plainSafe(s: string, flow: boolean): boolean {
  if (s === '' || s !== s.trim() || CORE_NON_STRING.test(s) || YAML11_NON_STRING.test(s) || YAML11_TIMESTAMP.test(s)) return false;
  if (/[\n\r\t]|: |\s#|:$/.test(s) || (flow && /[,[\]{}]/.test(s))) return false;
  if (/^[-?:,[\]{}!&*|>'"%@`#]/.test(s)) return false;
  if (/[\u0000-\u001f\u007f-\u009f\ufeff]/.test(s)) return false;
  return readsBackAs(s, s, flow);
}

/** A scalar as YAML text that reads back as exactly it, under YAML 1.1 and 1.2 alike. */
function scalarText(v: unknown, flow: boolean): string {
  if (typeof v === 'string') return plainSafe(v, flow) ? v : JSON.stringify(v);
  if (typeof v === 'number' && !Number.isFinite(v)) return v > 0 ? '.inf' : v < 0 ? '-.inf' : '.nan';
  return JSON.stringify(v) ?? 'null';
}

/** A flow mapping key: as a value, and never plain with a ":" (which a reader may take for the key's end). */
function keyText(k: string): string {
  return plainSafe(k, true) && !k.includes(':') ? k : JSON.stringify(k);
}

/**
 * A value as one line of YAML that parses back to exactly it: plain where that is safe, flow
 * style for objects and lists (`{app: web, tier: front}`), every string inside — values and
 * keys — held to the same rule as a top-level one.
 */
export function yamlText(v: unknown, flow: boolean): string {
  if (Array.isArray(v)) return `[${v.map((x) => yamlText(x, true)).join(', ')}]`;
  if (v !== null && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `${keyText(k)}: ${yamlText(x, true)}`).join(', ')}}`;
  return scalarText(v, flow);
}
