// Durations as people write them in pipelines (`soak: 15m`, `1h30m`, `2d`): Go's
// time.ParseDuration units minus the sub-second ones, plus days. No months: they vary in length.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|[smhd]))+$/;

/** Milliseconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  const s = text.trim();
  if (!DURATION_RE.test(s)) return undefined;
  let total = 0;
  for (const m of s.matchAll(/(\d+(?:\.\d+)?)(ms|[smhd])/g)) total += Number(m[1]) * UNIT_MS[m[2]!]!;
  return Math.round(total);
}

/** `1h5m`, `15m`, `42s`: the largest units first, zero parts left out. */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  let rest = Math.floor(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3_600], ['m', 60], ['s', 1]] as const) {
    const n = Math.floor(rest / size);
    if (n) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.length ? parts.join('') : '0s';
}
