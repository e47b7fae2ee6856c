import { toJson } from './format.js';

/** Where a command writes: stdout for results, stderr for notes and errors. */
export interface Io {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
}

/** A table column: its heading and, optionally, right alignment (counts). */
export interface Column {
  readonly title: string;
  readonly align?: 'left' | 'right';
}

/**
 * The one place the CLI writes output, so every command looks the same: aligned plain-text tables
 * (no colours, no box drawing, so they paste and grep well), key–value blocks, and JSON for `--json`.
 */
export class Output {
  constructor(private readonly io: Io) {}

  /** One line to stdout. */
  line(text = ''): void {
    this.io.stdout.write(`${text}\n`);
  }

  /** One line to stderr: errors and notes that a script reading stdout must not see. */
  error(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  /** `value` as indented JSON on stdout (bigints as digits). */
  json(value: unknown): void {
    this.line(toJson(value, 2));
  }

  /** An aligned table; `empty` is printed instead when there are no rows. */
  table(columns: readonly Column[], rows: readonly (readonly string[])[], empty = '(none)'): void {
    if (rows.length === 0) {
      this.line(empty);
      return;
    }
    const widths = columns.map((c, i) => Math.max(width(c.title), ...rows.map((r) => width(r[i] ?? ''))));
    const render = (cells: readonly string[]) =>
      columns
        .map((c, i) => {
          const cell = cells[i] ?? '';
          const pad = ' '.repeat((widths[i] ?? 0) - width(cell));
          return c.align === 'right' ? pad + cell : cell + pad;
        })
        .join('  ')
        .trimEnd();
    this.line(render(columns.map((c) => c.title)));
    for (const row of rows) this.line(render(row));
  }

  /** `key: value` lines with the values aligned. */
  fields(entries: readonly (readonly [string, string])[]): void {
    const w = Math.max(0, ...entries.map(([k]) => width(k)));
    for (const [k, v] of entries) this.line(`${`${k}:`.padEnd(w + 1)} ${v}`);
  }
}

// Code points, not UTF-16 units, so `—` and `…` count as one column.
function width(text: string): number {
  return [...text].length;
}
