import { Context, type Liquid } from 'liquidjs';
import { createLiquid, isTemplateLimitError, TEMPLATE_LIMITS } from '../create-liquid.js';
import { randomBytes } from 'node:crypto';
import { bindPlaceholders, describeBoundCommand, MARK_CLOSE, MARK_OPEN, PlaceholderError, valueMarker } from './shell-placeholders.js';

/** The values each command render has output so far and its marker nonce, by its context (see `renderCommand`). */
const renderValues = new WeakMap<Context, { values: string[]; nonce: string }>();

/**
 * Liquid for commands, which responders write: no files, the user-text limits, and no `raw`
 * filter. Every `{{ value }}` renders as a marker and its value is kept aside, so
 * `renderCommand` can pass it to the dyno as an environment variable instead of command text.
 */
export function createCommandLiquid(): Liquid {
  const liquid = createLiquid({
    files: 'none',
    limits: TEMPLATE_LIMITS.userText,
    outputEscape(this: { context: Context }, value: unknown) {
      const render = renderValues.get(this.context);
      if (render === undefined) throw new Error('commands are rendered only through renderCommand');
      const text = value === null || value === undefined ? '' : String(value);
      // Kept aside rather than written, so counted here: LiquidJS counts no output.
      this.context.memoryLimit.use(text.length);
      render.values.push(text);
      return valueMarker(render.nonce, render.values.length - 1);
    },
  });
  // `raw` would put a value into the command text.
  delete (liquid.filters as Record<string, unknown>).raw;
  return liquid;
}

export class CommandTemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandTemplateError';
  }
}

/** Most distinct values one command may pass (each is an environment variable of the dyno). */
export const MAX_COMMAND_VALUES = 100;
/** Most characters of values one command may pass. */
export const MAX_COMMAND_VALUE_CHARS = 64 * 1024;

export interface RenderedCommand {
  /** What the dyno runs: the template's text with `"${PB_1}"`-style references where values were. */
  command: string;
  /** The values, passed in the dyno's `env`. */
  env: Record<string, string>;
  /** The command followed by a comment line listing the values, for people to read. */
  display: string;
}

const explain = (error: Error) => {
  const message = error.message.replace(/, file:.*$/, '');
  if (/undefined filter: raw\b/.test(message)) return `the "raw" filter is not available in commands (every value reaches the dyno as data): ${message}`;
  if (isTemplateLimitError(error)) return `it exceeds the limits for commands (${message})`;
  return message;
};

/**
 * Renders a command template. A template that does not parse, reads a file, exceeds a limit or
 * puts a value where the shell would evaluate it is refused with a CommandTemplateError.
 */
export function renderCommand(liquid: Liquid, template: string, scope: object): RenderedCommand {
  if (template.includes(MARK_OPEN) || template.includes(MARK_CLOSE)) {
    throw new CommandTemplateError('command is not a valid template: it contains a reserved character (U+E000 or U+E001)');
  }
  const values: string[] = [];
  const nonce = randomBytes(8).toString('hex');
  let rendered: string;
  try {
    const parsed = liquid.parse(template);
    const context = new Context(scope, liquid.options);
    renderValues.set(context, { values, nonce });
    rendered = String(liquid.renderSync(parsed, context)).trim();
  } catch (error) {
    throw new CommandTemplateError(`command is not a valid template: ${explain(error as Error)}`);
  }
  let bound: { command: string; env: Record<string, string> };
  try {
    bound = bindPlaceholders(rendered, values, nonce, { maxValues: MAX_COMMAND_VALUES, maxChars: MAX_COMMAND_VALUE_CHARS });
  } catch (error) {
    if (error instanceof PlaceholderError) throw new CommandTemplateError(`command is not a valid template: ${error.message}`);
    throw error;
  }
  return { ...bound, display: describeBoundCommand(bound.command, bound.env) };
}

/** The marker the Heroku CLI appends to learn the exit status (Rendezvous does not carry it). */
export const EXIT_MARKER = '\uFFFF heroku-command-exit-status:';

/**
 * The command with the exit-status marker appended. It runs in a subshell, so an `exit` in it
 * still reaches the marker, on lines of its own, so a trailing `# comment` cannot swallow
 * the closing parenthesis.
 */
export function withExitMarker(command: string): string {
  return `(\n${command}\n); echo "${EXIT_MARKER} $?"`;
}

/** Splits the marker line off the output: the exit status, or null when the command did not finish. */
export function readExitStatus(output: string): { output: string; exitStatus: number | null } {
  const pattern = new RegExp(`${EXIT_MARKER} (\\d+)\\s*$`);
  const match = pattern.exec(output);
  if (!match) return { output, exitStatus: null };
  return { output: output.slice(0, match.index), exitStatus: Number(match[1]) };
}
