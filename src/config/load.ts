import { type Config, configSchema } from './schema';

export const DEFAULT_UPSTREAM_URL = 'http://127.0.0.1:8000/v1';

/** The seed config: one vLLM backend, an 8k model and its 32k extended variant. */
export function defaultConfigInput(upstreamUrl = DEFAULT_UPSTREAM_URL): unknown {
  return {
    backends: { 'gpu-a': { url: upstreamUrl, timeoutMs: 600_000 } },
    models: {
      'gpt-4': {
        backend: 'gpu-a',
        upstreamModel: 'served-name',
        encoding: 'cl100k_base',
        contextWindow: 8192,
        pricePer1k: { prompt: '0.03', completion: '0.06' },
        extended: 'gpt-4-32k',
      },
      'gpt-4-32k': {
        backend: 'gpu-a',
        encoding: 'cl100k_base',
        contextWindow: 32768,
        pricePer1k: { prompt: '0.06', completion: '0.12' },
      },
    },
  };
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Validates a parsed config; the error names every bad field by its path. */
export function parseConfig(input: unknown): Config {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => `  ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  throw new ConfigError(`invalid tollgate config:\n${lines.join('\n')}`);
}

/**
 * Builds the config from the JSON text of TOLLGATE_CONFIG (a file's contents on Node, a var on
 * Workers), or the defaults when there is none. UPSTREAM_URL overrides the default backend's url.
 */
export function loadConfig(json: string | undefined, env: { UPSTREAM_URL?: string } = {}): Config {
  if (json === undefined || json.trim() === '') return parseConfig(defaultConfigInput(env.UPSTREAM_URL || undefined));
  let input: unknown;
  try {
    input = JSON.parse(json);
  } catch (error) {
    throw new ConfigError(`invalid tollgate config: not JSON (${(error as Error).message})`);
  }
  return parseConfig(input);
}
