// The replica options of the config: `backend` or `backends`, per-backend weight and limit, the
// gateway's health, retry, queue, logging and metrics defaults, and which prices a reload changes.
import { describe, expect, test } from 'vitest';
import { ConfigError, changedPrices, defaultConfigInput, loadConfig, modelBackends, parseConfig } from '../../../src/config';

const price = { prompt: '0.001', completion: '0.002' };
const backends = { a: { url: 'http://10.0.0.1:8000/v1' }, b: { url: 'http://10.0.0.2:8000/v1', weight: 2, maxInFlight: 8 } };

describe('replicas in the config', () => {
  test('a model names one backend or several', () => {
    const config = parseConfig({
      backends,
      models: {
        one: { backend: 'a', contextWindow: 10, pricePer1k: price },
        two: { backends: ['a', 'b'], contextWindow: 10, pricePer1k: price },
      },
    });
    expect(modelBackends(config.models.one!)).toEqual(['a']);
    expect(modelBackends(config.models.two!)).toEqual(['a', 'b']);
    expect(config.backends.b).toMatchObject({ weight: 2, maxInFlight: 8, timeoutMs: 600_000 });
  });

  test.each([
    [{ contextWindow: 10, pricePer1k: price }, 'models.m.backend: give exactly one of "backend" and "backends"'],
    [{ backend: 'a', backends: ['a'], contextWindow: 10, pricePer1k: price }, 'models.m.backend: give exactly one'],
    [{ backends: [], contextWindow: 10, pricePer1k: price }, 'models.m.backends'],
    [{ backends: ['a', 'x'], contextWindow: 10, pricePer1k: price }, 'models.m.backends.1: names no backend "x"'],
    [{ backends: ['a', 'a'], contextWindow: 10, pricePer1k: price }, 'models.m.backends.1: names "a" twice'],
  ])('refused with the field named (%#)', (model, message) => {
    expect(() => parseConfig({ backends, models: { m: model } })).toThrow(ConfigError);
    expect(() => parseConfig({ backends, models: { m: model } })).toThrow(message);
  });

  test.each([
    [{ weight: 0 }, 'backends.a.weight'],
    [{ maxInFlight: 1.5 }, 'backends.a.maxInFlight'],
  ])('a bad backend option is named (%#)', (patch, field) => {
    expect(() => parseConfig({ backends: { a: { ...backends.a, ...patch } }, models: {} })).toThrow(field);
  });

  test('the defaults: passive health only, 3 attempts, a queue of 256 for 10 s, no request log, no key labels', () => {
    expect(loadConfig(undefined).gateway).toMatchObject({
      health: {
        failureThreshold: 1,
        backoffMs: 1_000,
        maxBackoffMs: 30_000,
        probeIntervalMs: 0,
        probePath: '/health',
        probeTimeoutMs: 2_000,
      },
      retry: { attempts: 3, maxRetryAfterMs: 30_000 },
      queue: { size: 256, maxWaitMs: 10_000 },
      logging: { requests: false },
      metrics: { perKey: false },
      tags: { allowed: [], unknown: 'reject', maxTags: 8, maxValueLength: 64 },
      maxBodyBytes: 4 * 1024 * 1024,
    });
    const partial = parseConfig({ ...(defaultConfigInput() as object), gateway: { health: { probeIntervalMs: 5_000 } } });
    expect(partial.gateway.health).toMatchObject({ probeIntervalMs: 5_000, backoffMs: 1_000 });
  });
});

describe('changedPrices', () => {
  const config = (prices: Record<string, { prompt: string; completion: string }>) =>
    parseConfig({
      backends,
      models: Object.fromEntries(Object.entries(prices).map(([name, p]) => [name, { backend: 'a', contextWindow: 10, pricePer1k: p }])),
    });

  test('models whose price the file changed, or that are new; the same price written differently is no change', () => {
    const before = config({ m: price, n: price });
    const after = config({ m: { prompt: '0.0010', completion: '0.002000' }, n: { prompt: '0.001', completion: '0.003' }, o: price });
    expect(changedPrices(before, after)).toEqual(['n', 'o']);
    expect(changedPrices(after, after)).toEqual([]);
  });
});
