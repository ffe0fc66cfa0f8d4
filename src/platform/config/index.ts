export { loadConfig, ConfigError, Secret, CONFIG_VARIABLES } from './config';
export type { Config, DatabaseConfig } from './config';
