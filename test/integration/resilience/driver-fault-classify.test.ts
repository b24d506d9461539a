import { describe, expect, test } from 'vitest';
import { isDriverFault } from '../../../src/runtime/driver-faults';

const withStack = (frames: string[]) =>
  Object.assign(new TypeError("Cannot read properties of null (reading 'write')"), {
    stack: ["TypeError: Cannot read properties of null (reading 'write')", ...frames.map((frame) => `    at ${frame}`)].join('\n'),
  });

// Only postgres.js's own code counts as a driver fault (the pool is replaced and the process goes
// on); our code, even when postgres.js called it, still ends the process.
describe('isDriverFault', () => {
  test.each([
    ['thrown in postgres.js (ESM)', ['Immediate.nextWrite (file:///srv/app/node_modules/postgres/src/connection.js:255:22)'], true],
    [
      'thrown in postgres.js (CommonJS, Windows path)',
      ['nextWrite (C:\\app\\node_modules\\postgres\\cjs\\src\\connection.js:255:22)'],
      true,
    ],
    [
      'thrown in our code called back by postgres.js',
      ['onnotice (file:///srv/app/dist/node.js:10:3)', 'Socket.data (file:///srv/app/node_modules/postgres/src/connection.js:300:5)'],
      false,
    ],
    [
      "thrown in drizzle's postgres-js adapter",
      ['PostgresJsSession.query (file:///srv/app/node_modules/drizzle-orm/postgres-js/session.js:111:5)'],
      false,
    ],
    ['thrown in our code', ['main (file:///srv/app/dist/node.js:42:9)'], false],
  ])('%s: %s', (_name, frames, expected) => {
    expect(isDriverFault(withStack(frames as string[]))).toBe(expected);
  });

  test('a thrown non-error is not a driver fault', () => {
    expect(isDriverFault('boom')).toBe(false);
    expect(isDriverFault(null)).toBe(false);
  });
});
