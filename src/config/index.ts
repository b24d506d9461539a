export { configSchema, ENCODINGS, TAG_KEY, type EncodingName, type Config, type ModelConfig, type BackendConfig } from './schema';
export { loadConfig, parseConfig, defaultConfigInput, ConfigError, DEFAULT_UPSTREAM_URL } from './load';
