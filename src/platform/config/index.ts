export { loadConfig, ConfigError, Secret, CONFIG_VARIABLES, decodeKey } from './config';
export type { Config, DatabaseConfig } from './config';
