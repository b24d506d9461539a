import { describe, expect, test } from 'vitest';
import { ConfigError } from '../../../src/config';
import { nodeSettings } from '../../../src/runtime/node-settings';

describe('the Node entry reads its settings from the environment', () => {
  test('nothing set: every default', () => {
    const settings = nodeSettings({});
    expect(settings).toMatchObject({
      poolSize: 10,
      admissionTimeoutMs: 5_000,
      flushIntervalMs: 20,
      heartbeatMs: 2_000,
      ownerSilentMs: 6_000,
    });
    expect(settings.database).toMatchObject({ connectTimeoutMs: 5_000, statementTimeoutMs: 10_000, deadlineMs: 15_000 });
  });

  test('TOLLGATE_DB_POOL sizes the pool; zero, a fraction or a word is refused by name', () => {
    expect(nodeSettings({ TOLLGATE_DB_POOL: '4' }).poolSize).toBe(4);
    for (const bad of ['0', '-2', '2.5', 'many']) {
      expect(() => nodeSettings({ TOLLGATE_DB_POOL: bad })).toThrow(ConfigError);
      expect(() => nodeSettings({ TOLLGATE_DB_POOL: bad })).toThrow(`TOLLGATE_DB_POOL must be a whole number, at least 1, not "${bad}"`);
    }
  });

  test('a deadline that is not whole milliseconds is refused by name', () => {
    expect(() => nodeSettings({ TOLLGATE_ADMISSION_TIMEOUT_MS: '1.5' })).toThrow(
      'TOLLGATE_ADMISSION_TIMEOUT_MS must be a whole number of milliseconds',
    );
    expect(() => nodeSettings({ TOLLGATE_HEARTBEAT_MS: '0' })).toThrow(
      'TOLLGATE_HEARTBEAT_MS must be a whole number of milliseconds (at least 1)',
    );
  });
});
