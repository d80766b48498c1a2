import { ConfigError } from './config.js';

/** Runs a config loader; on a ConfigError prints its lines (one per bad variable) and exits 1. */
export function exitOnConfigError<T>(load: () => T): T {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.lines.join('\n')}\n`);
      process.exit(1);
    }
    throw error;
  }
}
