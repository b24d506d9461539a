export { ConfigError, DEFAULT_UPSTREAM_URL, defaultConfigInput, loadConfig, parseConfig } from './load';
export { type MaintenanceEnv, maintenanceSettings } from './maintenance';
export { changedPrices, type ReloadReport } from './reload';
export {
  type BackendConfig,
  type Config,
  configSchema,
  ENCODINGS,
  type EncodingName,
  type ModelConfig,
  modelBackends,
  TAG_KEY,
} from './schema';
