import { lstat, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writtenByUser } from '../cache-root.ts';
import { writeFileAtomic } from '../write-file-atomic.ts';

// What `promote run` last notified per subject (a stage's waiting candidate, a cluster's
// phase), kept in the cache root across passes and restarts: a state is announced when it is
// entered, not on every pass that finds it unchanged. Bounded to MAX_MARKS subjects.

const MAX_MARKS = 2000;

export class SentMarks {
  private readonly file: string;
  private marks: Record<string, string>;
  private dirty = false;

  private constructor(file: string, marks: Record<string, string>) {
    this.file = file;
    this.marks = marks;
  }

  static async open(dir: string): Promise<SentMarks> {
    const file = join(dir, 'sent.json');
    let marks: Record<string, string> = {};
    if (writtenByUser(await lstat(file).catch(() => undefined), 'file')) {
      try {
        const v = JSON.parse(await readFile(file, 'utf8')) as unknown;
        if (v && typeof v === 'object' && !Array.isArray(v)) marks = Object.fromEntries(Object.entries(v).filter(([, s]) => typeof s === 'string')) as Record<string, string>;
      } catch {
        marks = {};
      }
    }
    return new SentMarks(file, marks);
  }

  get(subject: string): string | undefined {
    return this.marks[subject];
  }

  /** Records `state` for `subject`; true when it differs from what was recorded before (a transition). */
  set(subject: string, state: string): boolean {
    if (this.marks[subject] === state) return false;
    delete this.marks[subject];
    this.marks[subject] = state;
    this.dirty = true;
    return true;
  }

  delete(subject: string): void {
    if (subject in this.marks) {
      delete this.marks[subject];
      this.dirty = true;
    }
  }

  async save(): Promise<void> {
    if (!this.dirty) return;
    const keys = Object.keys(this.marks);
    // Insertion order is last-set order: the oldest subjects go first.
    for (const k of keys.slice(0, Math.max(0, keys.length - MAX_MARKS))) delete this.marks[k];
    const dir = join(this.file, '..');
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.file, JSON.stringify(this.marks), { mode: 0o600 });
    this.dirty = false;
  }
}
