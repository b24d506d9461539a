import type { AdminClient } from './client';
import type { Flags, OptionSpecs } from './flags';
import type { Output } from './io';

export interface CommandContext {
  /** Positional arguments after the command words, one per name in `Command.args`. */
  args: string[];
  flags: Flags;
  client: AdminClient;
  out: Output;
}

/** One CLI command: its words, its flags, and what it asks the admin API. */
export interface Command {
  /** The command words, e.g. ['keys', 'create']. */
  path: readonly string[];
  /** Names of required positional arguments, e.g. ['ID']. */
  args?: readonly string[];
  summary: string;
  options?: OptionSpecs;
  examples?: readonly string[];
  /** Validates flags before any request, so a usage error never half-applies a change. */
  run(ctx: CommandContext): Promise<void>;
}

/** The usage line: `tollgate keys create --name NAME [--scopes LIST] …`. */
export function usageLine(command: Command): string {
  const parts = ['tollgate', ...command.path, ...(command.args ?? [])];
  for (const [name, spec] of Object.entries(command.options ?? {})) {
    const flag = spec.type === 'string' ? `--${name} ${spec.value ?? 'VALUE'}` : `--${name}`;
    parts.push(spec.required ? flag : `[${flag}]`);
  }
  return parts.join(' ');
}
