// JSON pointers (RFC 6901) are how every problem names its place in a document, matching the
// `instancePath` ajv reports, so a pointer from ajv and one we build ourselves compare equal.

export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new Error(`not a JSON pointer: ${pointer}`);
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function formatPointer(segments: readonly (string | number)[]): string {
  return segments.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
}

export function appendPointer(pointer: string, segment: string | number): string {
  return pointer + formatPointer([segment]);
}
