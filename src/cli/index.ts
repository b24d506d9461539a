export { AdminClient, type AdminClientOptions } from './client';
export type { Command } from './command';
export { ApiError, exitCodes, UnreachableError, UsageError } from './errors';
export type { CliIo } from './io';
export { commands, runCli } from './run';
