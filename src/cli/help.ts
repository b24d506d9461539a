import { type Command, usageLine } from './command';
import type { OptionSpecs } from './flags';

export const DEFAULT_URL = 'http://127.0.0.1:8787';

export const globalOptions: OptionSpecs = {
  url: { type: 'string', value: 'URL', description: `Gateway URL (env TOLLGATE_URL, default ${DEFAULT_URL})` },
  token: { type: 'string', value: 'TOKEN', description: 'Operator token (env TOLLGATE_ADMIN_TOKEN; prefer the env var, flags show in ps)' },
  json: { type: 'boolean', description: 'Print the raw JSON response' },
  help: { type: 'boolean', short: 'h', description: 'Show help' },
};

const EXIT_CODES = [
  'Exit codes: 0 ok, 1 the gateway answered an error, 2 usage error, 3 gateway unreachable, 4 the tie-out found differences.',
];

function optionLines(options: OptionSpecs): string[] {
  const labels = Object.entries(options).map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}`;
    return [spec.type === 'string' ? `${flag} ${spec.value ?? 'VALUE'}` : flag, spec.description] as const;
  });
  const width = Math.max(...labels.map(([label]) => label.length));
  return labels.map(([label, description]) => `  ${label.padEnd(width)}  ${description}`);
}

function commandIndex(commands: readonly Command[]): string[] {
  const rows = commands.map((command) => [[...command.path, ...(command.args ?? [])].join(' '), command.summary] as const);
  const width = Math.max(...rows.map(([words]) => words.length));
  return rows.map(([words, summary]) => `  ${words.padEnd(width)}  ${summary}`);
}

/** `tollgate help`: every command with its one-line summary. */
export function generalHelp(commands: readonly Command[]): string[] {
  return [
    'tollgate: operator CLI for the tollgate gateway: run it (serve), or manage it through its admin API',
    '',
    'Usage: tollgate <command> [options]',
    '',
    'Commands:',
    ...commandIndex(commands),
    '',
    'Global options:',
    ...optionLines(globalOptions),
    '',
    ...EXIT_CODES,
    "Run 'tollgate <command> --help' for a command's options.",
  ];
}

/** `tollgate keys --help`: the subcommands of one group. */
export function groupHelp(group: string, commands: readonly Command[]): string[] {
  return [
    `Usage: tollgate ${group} <command> [options]`,
    '',
    'Commands:',
    ...commandIndex(commands),
    '',
    `Run 'tollgate ${group} <command> --help' for a command's options.`,
  ];
}

/** `tollgate keys create --help`: usage line, summary, options and examples. */
export function commandHelp(command: Command): string[] {
  const lines = [`Usage: ${usageLine(command)}`, '', `${command.summary}.`];
  if (command.options && Object.keys(command.options).length > 0) lines.push('', 'Options:', ...optionLines(command.options));
  lines.push('', 'Global options:', ...optionLines(globalOptions));
  if (command.examples?.length) lines.push('', 'Examples:', ...command.examples.map((example) => `  ${example}`));
  return lines;
}
