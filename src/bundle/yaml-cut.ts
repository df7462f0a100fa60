import type { Document, Pair, YAMLMap } from 'yaml';

// Cutting whole documents and mapping pairs out of a manifest, in its source text and its parsed
// YAML together (the renderer's invariant: `content` and `documents` agree). Only the cut text
// goes: the lines around it, their comments and indentation, stay byte for byte. Cuts are
// collected first and made at the end, so a mapping emptied by several cuts is known as such.

export interface TextEdit {
  start: number;
  end: number;
  text: string;
}

export class YamlCuts {
  readonly #text: string;
  readonly #pairs = new Map<YAMLMap, Set<Pair>>();
  readonly #collapses: { map: YAMLMap; parent: YAMLMap; pair: Pair }[] = [];
  readonly #edits: TextEdit[] = [];

  constructor(text: string) {
    this.#text = text;
  }

  has(pair: Pair): boolean {
    for (const cut of this.#pairs.values()) if (cut.has(pair)) return true;
    return false;
  }

  /** Cuts `pair` out of `map`. A mapping left with no pairs becomes `{}`. */
  pair(map: YAMLMap, pair: Pair): void {
    const cut = this.#pairs.get(map) ?? new Set();
    cut.add(pair);
    this.#pairs.set(map, cut);
  }

  /** If every pair of `map` ends up cut, cut `pair` (whose value `map` is) out of `parent` instead of leaving `{}`. */
  collapse(map: YAMLMap, parent: YAMLMap, pair: Pair): void {
    this.#collapses.push({ map, parent, pair });
  }

  /** Cuts a whole document (from its `---`, or its first line) up to the next one. */
  document(doc: Document.Parsed, next: Document.Parsed | undefined): void {
    this.#edits.push({ start: doc.range[0], end: next ? next.range[0] : this.#text.length, text: '' });
  }

  /** Makes the pair cuts in the parsed YAML and returns the text edits for every cut. */
  finish(): TextEdit[] {
    for (const { map, parent, pair } of this.#collapses) {
      if (this.#pairs.get(map)?.size !== map.items.length) continue;
      this.#pairs.delete(map);
      this.pair(parent, pair);
    }
    const edits = [...this.#edits];
    for (const [map, cut] of this.#pairs) {
      edits.push(...(map.flow ? this.#flowEdits(map, cut) : this.#blockEdits(map, cut)));
      map.items = map.items.filter((p) => !cut.has(p));
    }
    return edits;
  }

  #keyStart(p: Pair): number {
    return (p.key as { range: [number, number, number] }).range[0];
  }

  #valueEnd(p: Pair): number {
    return ((p.value ?? p.key) as { range: [number, number, number] }).range[1];
  }

  /** From the start of the pair's first line through the end of its last (a trailing comment goes with it). */
  #lines(p: Pair): TextEdit {
    const text = this.#text;
    const start = text.lastIndexOf('\n', this.#keyStart(p) - 1) + 1;
    const e = this.#valueEnd(p);
    const nl = text[e - 1] === '\n' ? e - 1 : text.indexOf('\n', e);
    return { start, end: nl < 0 ? text.length : nl + 1, text: '' };
  }

  #blockEdits(map: YAMLMap, cut: Set<Pair>): TextEdit[] {
    const items = map.items as Pair[];
    const text = this.#text;
    if (cut.size === items.length) {
      // `key:` with nothing under it would read as null: the emptied mapping is written `{}`.
      const [first, ...rest] = items;
      return [{ start: this.#keyStart(first!), end: this.#valueEnd(first!), text: '{}' }, ...rest.map((p) => this.#lines(p))];
    }
    const edits: TextEdit[] = [];
    let i = 0;
    const head = this.#keyStart(items[0]!);
    if (cut.has(items[0]!) && text.slice(text.lastIndexOf('\n', head - 1) + 1, head).trim() !== '') {
      // The first pair shares its line with what holds the mapping (`- name: …`): the first kept
      // pair moves up into its place.
      while (cut.has(items[i]!)) i++;
      edits.push({ start: head, end: this.#keyStart(items[i]!), text: '' });
    }
    for (; i < items.length; i++) if (cut.has(items[i]!)) edits.push(this.#lines(items[i]!));
    return edits;
  }

  #flowEdits(map: YAMLMap, cut: Set<Pair>): TextEdit[] {
    const items = map.items as Pair[];
    const range = map.range!;
    if (cut.size === items.length) return [{ start: range[0], end: range[1], text: '{}' }];
    const edits: TextEdit[] = [];
    for (let i = 0; i < items.length; i++) {
      if (!cut.has(items[i]!)) continue;
      let j = i;
      while (j + 1 < items.length && cut.has(items[j + 1]!)) j++;
      // A run of cut pairs goes with the comma after it, or (at the end) the comma before it.
      edits.push(j + 1 < items.length ? { start: this.#keyStart(items[i]!), end: this.#keyStart(items[j + 1]!), text: '' } : { start: this.#valueEnd(items[i - 1]!), end: this.#valueEnd(items[j]!), text: '' });
      i = j;
    }
    return edits;
  }
}
