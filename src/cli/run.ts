import { AdminClient } from './client';
import { type Command, usageLine } from './command';
import { alertCommands } from './commands/alerts';
import { budgetCommands } from './commands/budget';
import { keyCommands } from './commands/keys';
import { priceCommands } from './commands/prices';
import { reportCommands } from './commands/report';
import { requestCommands } from './commands/requests';
import { serveCommand, startGateway } from './commands/serve';
import { teamCommands } from './commands/teams';
import { ApiError, DifferencesFound, exitCodes, UnreachableError, UsageError } from './errors';
import { type Flags, parseFlags } from './flags';
import { commandHelp, DEFAULT_URL, generalHelp, globalOptions, groupHelp } from './help';
import { type CliIo, Output } from './io';

export const commands: readonly Command[] = [
  serveCommand,
  ...keyCommands,
  ...budgetCommands,
  ...priceCommands,
  ...requestCommands,
  ...alertCommands,
  ...teamCommands,
  ...reportCommands,
];

/** A usage error, with the help to print after its message. */
class UsageFailure extends Error {
  constructor(
    message: string,
    readonly help: string[],
  ) {
    super(message);
  }
}

/**
 * Runs one CLI invocation in-process and resolves to its exit code: 0 ok, 1 the gateway answered
 * an error, 2 usage error, 3 the gateway could not be reached. Never throws, never exits.
 *
 * @example
 * const code = await runCli(['keys', 'list', '--json'], { stdout: process.stdout, stderr: process.stderr, env: process.env, fetch });
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  try {
    return await dispatch(argv, io);
  } catch (error) {
    return report(error, io);
  }
}

async function dispatch(argv: readonly string[], io: CliIo): Promise<number> {
  const { words, rest } = splitCommandWords(argv);
  if (words[0] === 'help') return printHelp(io, helpFor(words.slice(1)));
  if (rest.includes('--help') || rest.includes('-h')) return printHelp(io, helpFor(words));
  const command = findCommand(words);
  try {
    const { flags, positionals } = parseFlags(rest, { ...command.options, ...globalOptions });
    checkArguments(command, flags, positionals);
    // `serve` is the gateway, not a client of it: no gateway URL or operator token.
    if (command === serveCommand) {
      await startGateway();
      return exitCodes.ok;
    }
    const out = new Output(io, flags.bool('json'));
    const client = new AdminClient({ ...connection(flags, io.env), fetch: io.fetch });
    await command.run({ args: positionals, flags, client, out });
    return exitCodes.ok;
  } catch (error) {
    if (error instanceof UsageError) {
      throw new UsageFailure(error.message, [
        `Usage: ${usageLine(command)}`,
        `Run 'tollgate ${command.path.join(' ')} --help' for details.`,
      ]);
    }
    throw error;
  }
}

function printHelp(io: CliIo, lines: string[]): number {
  io.stdout.write(`${lines.join('\n')}\n`);
  return exitCodes.ok;
}

function findCommand([first, second]: string[]): Command {
  if (first === undefined) throw new UsageFailure('missing command.', generalHelp(commands));
  const group = commands.filter((command) => command.path[0] === first);
  if (group.length === 0) throw new UsageFailure(`unknown command '${first}'.`, generalHelp(commands));
  const leaf = group.find((command) => command.path.length === 1);
  if (leaf) return leaf;
  if (second === undefined) throw new UsageFailure(`'${first}' needs a command.`, groupHelp(first, group));
  const command = group.find((candidate) => candidate.path[1] === second);
  if (!command) throw new UsageFailure(`unknown command '${first} ${second}'.`, groupHelp(first, group));
  return command;
}

// Global flags may come before the command words (`tollgate --json keys list`), so the words are
// the first positionals, skipping the values of the global flags that take one.
function splitCommandWords(argv: readonly string[]): { words: string[]; rest: string[] } {
  const words: string[] = [];
  const rest: string[] = [];
  const wordCount = () => (words[0] === 'help' ? Infinity : commands.some((c) => c.path[0] === words[0] && c.path.length > 1) ? 2 : 1);
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    if (token === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (token.startsWith('-') && token !== '-') {
      rest.push(token);
      if ((token === '--url' || token === '--token') && i + 1 < argv.length) rest.push(argv[++i]!);
    } else if (words.length === 0 || words.length < wordCount()) {
      words.push(token);
    } else {
      rest.push(token);
    }
  }
  return { words, rest };
}

function helpFor(topic: string[]): string[] {
  if (topic.length === 0) return generalHelp(commands);
  const exact = commands.find((command) => command.path.join(' ') === topic.join(' '));
  if (exact) return commandHelp(exact);
  const group = commands.filter((command) => command.path[0] === topic[0]);
  if (topic.length === 1 && group.length > 0) return groupHelp(topic[0]!, group);
  throw new UsageFailure(`no help for '${topic.join(' ')}'.`, generalHelp(commands));
}

function checkArguments(command: Command, flags: Flags, positionals: string[]): void {
  for (const [name, spec] of Object.entries(command.options ?? {})) {
    if (spec.required && !flags.has(name)) throw new UsageError(`missing required flag --${name}.`);
  }
  const expected = command.args ?? [];
  if (positionals.length < expected.length) throw new UsageError(`missing ${expected.slice(positionals.length).join(' ')}.`);
  if (positionals.length > expected.length) throw new UsageError(`unexpected argument '${positionals[expected.length]}'.`);
}

function connection(flags: Flags, env: CliIo['env']): { baseUrl: string; token: string } {
  const raw = flags.string('url') ?? (env.TOLLGATE_URL || DEFAULT_URL);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`--url must be an http(s) URL, got '${raw}'.`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--url must be an http(s) URL, got '${raw}'.`);
  const token = flags.string('token') ?? env.TOLLGATE_ADMIN_TOKEN;
  if (!token) throw new UsageError('no operator token: set TOLLGATE_ADMIN_TOKEN or pass --token.');
  return { baseUrl: `${url.origin}${url.pathname}`.replace(/\/+$/, ''), token };
}

function report(error: unknown, io: CliIo): number {
  const say = (line: string) => io.stderr.write(`tollgate: ${line}\n`);
  if (error instanceof UsageFailure) {
    say(error.message);
    io.stderr.write(`\n${error.help.join('\n')}\n`);
    return exitCodes.usage;
  }
  if (error instanceof ApiError) {
    say(error.describe());
    return exitCodes.gatewayError;
  }
  if (error instanceof DifferencesFound) {
    say(error.message);
    return exitCodes.differences;
  }
  if (error instanceof UnreachableError) {
    say(`${error.message}. Is it running? Point the CLI at it with --url or TOLLGATE_URL.`);
    return exitCodes.unreachable;
  }
  say(`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  return exitCodes.gatewayError;
}
