import { WorkflowConfigError } from './workflows/workflow-config.js';
import { EscalationConfigError } from './escalation/escalation-policies.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { checkPostgres, checkRedis } from './connectivity.js';
import { RuleError, loadRuleSet, type RuleSet } from './rules/rule-set.js';

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

/**
 * Start-up of either process: the config (or one line per bad variable), then PostgreSQL and
 * Redis must answer (or one line each saying how to start them); exits 1 otherwise.
 */
export async function bootOrExit(): Promise<Config> {
  const config = exitOnConfigError(() => loadConfig());
  const problems = (await Promise.all([checkPostgres(config.databaseUrl), checkRedis(config.redisUrl)])).filter((problem) => problem !== null);
  if (problems.length > 0) {
    process.stderr.write(`${problems.join('\n')}\n`);
    process.exit(1);
  }
  return config;
}

/** The rules of CONFIG_DIR, or one line naming the file, rule and problem, and exit 1. */
export async function loadRulesOrExit(configDir: string): Promise<RuleSet> {
  try {
    return await loadRuleSet(configDir);
  } catch (error) {
    if (error instanceof WorkflowConfigError) {
      process.stderr.write(`workflows: ${error.message}\n`);
      process.exit(1);
    }
    if (error instanceof EscalationConfigError) {
      process.stderr.write(`escalation: ${error.message}\n`);
      process.exit(1);
    }
    if (!(error instanceof RuleError)) throw error;
    process.stderr.write(`rules: ${error.message}\n`);
    process.exit(1);
  }
}

/**
 * The line a process prints when it could not start: one line for a port already in use (which
 * variable moves it), the stack otherwise.
 */
export function startFailureLine(processName: 'api' | 'worker', error: unknown, portVariable: 'PORT' | 'WORKER_PORT'): string {
  const failure = error as { code?: unknown; port?: unknown; stack?: string };
  if (failure?.code === 'EADDRINUSE') {
    return `pulsebridge ${processName} failed to start: port ${String(failure.port ?? '')} is already in use (an earlier pulsebridge still running?); stop it or set ${portVariable}`;
  }
  return `pulsebridge ${processName} failed to start: ${failure?.stack ?? String(error)}`;
}
