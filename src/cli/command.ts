import type { Outcome } from '../errors.ts';

// The contract every command file fulfils. A command file imports nothing heavy at its top
// level: `promote <cmd> --help` loads only that file, and `run` imports the library it calls.

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  multiple?: boolean;
  /** Shown in help as `--name <valueName>`. */
  valueName?: string;
  description: string;
  default?: string | boolean;
}

export interface Example {
  title: string;
  command: string;
}

export type OutputFormat = 'text' | 'json';

export interface CommandContext {
  output: OutputFormat;
  debug: boolean;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** Transient progress for humans: written to stderr only when stderr is a TTY. */
  progress(message: string): void;
  /** A notice for humans on stderr (warnings, what happened); never results. */
  log(message: string): void;
  /** One result of a series (a watch loop), on stdout at once; the command's return value is still printed last. */
  emit(data: unknown, text: string): void;
  /** True when stdin is a TTY, so a command may prompt (e.g. for a key password). */
  interactive: boolean;
  /** Colour allowed on stdout (TTY and NO_COLOR unset). */
  color: boolean;
}

export interface ParsedArgs {
  positionals: string[];
  values: Record<string, string | boolean | string[] | undefined>;
}

export interface CommandResult {
  /** What `--output json` prints. */
  data: unknown;
  /** What text output prints; defaults to the data as YAML-ish JSON. */
  text?: string;
  /** A non-zero outcome that is still a result (e.g. `verify` reporting "not signed"). */
  outcome?: Outcome;
}

export interface Command {
  name: string;
  summary: string;
  /** e.g. `promote push [dir] <repository>[:tag] [options]` */
  usage: string;
  description?: string;
  options?: Record<string, OptionSpec>;
  /** Inclusive bounds on positional arguments. */
  positionals?: { min: number; max: number };
  examples?: Example[];
  run(ctx: CommandContext, args: ParsedArgs): Promise<CommandResult>;
}

/** Reads a string option, or undefined. */
export function stringOption(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

export function listOption(args: ParsedArgs, name: string): string[] {
  const v = args.values[name];
  if (Array.isArray(v)) return v;
  return typeof v === 'string' ? [v] : [];
}

export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}
