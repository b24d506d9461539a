import { describeError } from '../store/errors';

/** The top stack frame is postgres.js's own code (not ours called back from it). */
export function isDriverFault(error: unknown): error is Error {
  if (!(error instanceof Error) || typeof error.stack !== 'string') return false;
  const top = error.stack.split('\n').find((line) => line.trimStart().startsWith('at '));
  return top !== undefined && /[\\/]node_modules[\\/]postgres[\\/]/.test(top);
}

export interface DriverFaultGuardOptions {
  /** Called with each driver fault, after it is logged: replace the pool. */
  onFault: (error: Error) => void;
  log: (line: string) => void;
  /** How anything else ends the process (default: print it and exit 1, as Node does). */
  crash?: (error: unknown) => void;
}

/**
 * Keeps the process alive through faults inside the database driver. postgres.js 3.4.9 throws
 * from its own timers when a connection dies under it (a `ROLLBACK` written to a socket already
 * gone: "Cannot read properties of null (reading 'write')", porsager/postgres#1208), where no
 * caller can catch it. Such an error is logged (message and place, never a statement or its
 * parameters) and handed to `onFault`; any other uncaught error still ends the process.
 *
 * @example
 * guardDriverFaults({ onFault: (error) => store.replaceClient?.(error.message), log });
 */
export function guardDriverFaults(options: DriverFaultGuardOptions): () => void {
  const crash =
    options.crash ??
    ((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
  const onUncaught = (error: unknown, origin: string) => {
    if (!isDriverFault(error)) return crash(error);
    const place = error.stack?.split('\n').find((line) => line.trimStart().startsWith('at '));
    options.log(
      `tollgate: database driver fault (${origin}): ${describeError(error)} ${place?.trim() ?? ''}; replacing the connection pool`,
    );
    options.onFault(error);
  };
  process.on('uncaughtException', onUncaught);
  return () => process.off('uncaughtException', onUncaught);
}
