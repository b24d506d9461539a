export { ConfigError, DEFAULT_UPSTREAM_URL, defaultConfigInput, loadConfig, parseConfig } from './load';
export { type BackendConfig, type Config, configSchema, ENCODINGS, type EncodingName, type ModelConfig, TAG_KEY } from './schema';
