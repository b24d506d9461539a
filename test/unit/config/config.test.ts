import { describe, expect, test } from 'vitest';
import { ConfigError, loadConfig } from '../../../src/config';

describe('config', () => {
  test("defaults are the seed tiers on vLLM's default port", () => {
    const config = loadConfig(undefined);
    expect(config.backends['gpu-a']).toEqual({ url: 'http://127.0.0.1:8000/v1', timeoutMs: 600_000 });
    expect(config.models['gpt-4']).toMatchObject({
      contextWindow: 8192,
      extended: 'gpt-4-32k',
      pricePer1k: { prompt: '0.03', completion: '0.06' },
    });
    expect(config.models['gpt-4-32k']).toMatchObject({ contextWindow: 32768, pricePer1k: { prompt: '0.06', completion: '0.12' } });
  });

  test('UPSTREAM_URL overrides the default backend url', () => {
    expect(loadConfig(undefined, { UPSTREAM_URL: 'http://10.0.0.5:9000/v1' }).backends['gpu-a']!.url).toBe('http://10.0.0.5:9000/v1');
  });

  test.each([
    [
      { backends: {}, models: { m: { backend: 'x', contextWindow: 10, pricePer1k: { prompt: '1', completion: '1' } } } },
      'models.m.backend',
    ],
    [
      {
        backends: { b: { url: 'http://h/v1' } },
        models: { m: { backend: 'b', contextWindow: 10, pricePer1k: { prompt: 0.03, completion: '1' } } },
      },
      'models.m.pricePer1k.prompt',
    ],
    [
      {
        backends: { b: { url: 'http://h/v1' } },
        models: { m: { backend: 'b', contextWindow: -1, pricePer1k: { prompt: '1', completion: '1' } } },
      },
      'models.m.contextWindow',
    ],
    [
      {
        backends: { b: { url: 'http://h/v1' } },
        models: { m: { backend: 'b', encoding: 'nope', contextWindow: 5, pricePer1k: { prompt: '1', completion: '1' } } },
      },
      'models.m.encoding',
    ],
    [{ backends: { b: { url: 'not a url' } }, models: {} }, 'backends.b.url'],
    [
      {
        backends: { b: { url: 'http://h/v1' } },
        models: { m: { backend: 'b', contextWindow: 5, extended: 'm', pricePer1k: { prompt: '1', completion: '1' } } },
      },
      'models.m.extended',
    ],
  ])('names the bad field (%#)', (input, field) => {
    expect(() => loadConfig(JSON.stringify(input))).toThrow(ConfigError);
    expect(() => loadConfig(JSON.stringify(input))).toThrow(field);
  });

  test('says when the text is not JSON', () => {
    expect(() => loadConfig('{nope')).toThrow(/not JSON/);
  });
});
