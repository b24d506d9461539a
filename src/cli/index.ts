export { runCli, commands } from './run';
export type { CliIo } from './io';
export type { Command } from './command';
export { AdminClient, type AdminClientOptions } from './client';
export { ApiError, UnreachableError, UsageError, exitCodes } from './errors';
