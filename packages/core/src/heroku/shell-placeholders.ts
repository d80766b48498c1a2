/**
 * Values in run commands reach the dyno as environment variables, never as command text: the
 * rendered command holds a marker where each `{{ value }}` was, and each marker becomes a
 * reference to a variable (`PB_1`, `PB_2`, ...) written for the shell context it stands in, so
 * the value comes out literally whether the author wrote it bare, in double or single quotes,
 * in `$'...'`, in backticks or in `$(...)`. The value itself is never parsed by the shell;
 * only a command that evaluates its arguments (`eval`, `sh -c`) could run it, and that is the
 * author's choice. In `$((...))` arithmetic bash evaluates a value as code, so a value there is
 * refused.
 */

/** Brackets a value's index in a rendered command (Private Use characters, refused in templates). */
export const MARK_OPEN = '\uE000';
export const MARK_CLOSE = '\uE001';
const MARK = /\uE000(\d+)\uE001/g;
const STRAY_MARK = /[\uE000\uE001]/g;

export const ENV_PREFIX = 'PB_';

export class PlaceholderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlaceholderError';
  }
}

type Frame =
  | { kind: 'plain'; closer: ')' | '`' | null; depth: number }
  | { kind: 'double' }
  | { kind: 'single' }
  | { kind: 'ansi' }
  | { kind: 'arith'; depth: number }
  | { kind: 'comment' };

/** How a reference to `name` is written so that the shell reads the value literally there. */
function reference(frame: Frame, name: string): string {
  switch (frame.kind) {
    case 'plain':
      return `"\${${name}}"`;
    case 'double':
    case 'comment':
      return `\${${name}}`;
    case 'single':
      return `'"\${${name}}"'`;
    case 'ansi':
      return `'"\${${name}}"$'`;
    case 'arith':
      throw new PlaceholderError('a value cannot be used inside $(( )): shell arithmetic would evaluate it as code');
  }
}

const WORD_START = /[\s;&|()]/;

/**
 * Replaces the value markers of a rendered command by variable references; `values[i]` is the
 * value of marker i. Equal values share one variable. Markers inside a value (a `capture` that
 * is output again) become the value they stand for.
 */
export function bindPlaceholders(
  rendered: string,
  values: readonly string[],
  limits: { maxValues: number; maxChars: number },
): { command: string; env: Record<string, string> } {
  const tooMuch = (what: string) =>
    new PlaceholderError(`it exceeds the limits for commands (${what}; at most ${limits.maxValues} distinct values of ${limits.maxChars} characters in all)`);
  const resolved: string[] = [];
  for (const value of values) {
    // Checked as they grow: captures output again can double a value at each step.
    let length = 0;
    const inner = value.replace(MARK, (_, index: string) => {
      const part = resolved[Number(index)] ?? '';
      length += part.length;
      if (length > limits.maxChars) throw tooMuch(`a value over ${limits.maxChars} characters`);
      return part;
    });
    if (inner.length > limits.maxChars) throw tooMuch(`a value over ${limits.maxChars} characters`);
    resolved.push(inner.replace(STRAY_MARK, '').replaceAll('\u0000', ''));
  }
  const env: Record<string, string> = {};
  const nameOf = new Map<string, string>();
  let chars = 0;
  const variable = (index: number): string => {
    const value = resolved[index] ?? '';
    let name = nameOf.get(value);
    if (name === undefined) {
      name = `${ENV_PREFIX}${nameOf.size + 1}`;
      chars += value.length;
      if (nameOf.size + 1 > limits.maxValues) throw tooMuch(`more than ${limits.maxValues} distinct values`);
      if (chars > limits.maxChars) throw tooMuch(`over ${limits.maxChars} characters of values`);
      nameOf.set(value, name);
      env[name] = value;
    }
    return name;
  };

  const stack: Frame[] = [{ kind: 'plain', closer: null, depth: 0 }];
  let out = '';
  let i = 0;
  const at = (offset = 0) => rendered[i + offset] ?? '';
  const copy = (count: number) => {
    out += rendered.slice(i, i + count);
    i += count;
  };
  while (i < rendered.length) {
    const frame = stack[stack.length - 1]!;
    const c = at();
    if (c === MARK_OPEN) {
      const match = /^\uE000(\d+)\uE001/.exec(rendered.slice(i));
      if (match) {
        out += reference(frame, variable(Number(match[1])));
        i += match[0].length;
        continue;
      }
      i++;
      continue;
    }
    if (c === MARK_CLOSE) {
      i++;
      continue;
    }
    switch (frame.kind) {
      case 'single':
        if (c === "'") stack.pop();
        copy(1);
        break;
      case 'comment':
        if (c === '\n') stack.pop();
        copy(1);
        break;
      case 'ansi':
        if (c === '\\') copy(2);
        else {
          if (c === "'") stack.pop();
          copy(1);
        }
        break;
      case 'double':
        if (c === '\\') copy(2);
        else if (c === '"') {
          stack.pop();
          copy(1);
        } else if (c === '`') {
          stack.push({ kind: 'plain', closer: '`', depth: 0 });
          copy(1);
        } else if (c === '$' && at(1) === '(' && at(2) === '(') {
          stack.push({ kind: 'arith', depth: 0 });
          copy(3);
        } else if (c === '$' && at(1) === '(') {
          stack.push({ kind: 'plain', closer: ')', depth: 0 });
          copy(2);
        } else copy(1);
        break;
      case 'arith':
        if (c === '(') {
          frame.depth++;
          copy(1);
        } else if (c === ')' && frame.depth > 0) {
          frame.depth--;
          copy(1);
        } else if (c === ')' && at(1) === ')') {
          stack.pop();
          copy(2);
        } else copy(1);
        break;
      case 'plain':
        if (c === '\\') copy(2);
        else if (c === "'") {
          stack.push({ kind: 'single' });
          copy(1);
        } else if (c === '"') {
          stack.push({ kind: 'double' });
          copy(1);
        } else if (c === '$' && at(1) === "'") {
          stack.push({ kind: 'ansi' });
          copy(2);
        } else if (c === '$' && at(1) === '(' && at(2) === '(') {
          stack.push({ kind: 'arith', depth: 0 });
          copy(3);
        } else if (c === '$' && at(1) === '(') {
          stack.push({ kind: 'plain', closer: ')', depth: 0 });
          copy(2);
        } else if (c === '`') {
          if (frame.closer === '`') stack.pop();
          else stack.push({ kind: 'plain', closer: '`', depth: 0 });
          copy(1);
        } else if (c === '(' ) {
          frame.depth++;
          copy(1);
        } else if (c === ')') {
          if (frame.depth > 0) frame.depth--;
          else if (frame.closer === ')') stack.pop();
          copy(1);
        } else if (c === '#' && (i === 0 || WORD_START.test(rendered[i - 1]!))) {
          stack.push({ kind: 'comment' });
          copy(1);
        } else copy(1);
        break;
    }
  }
  return { command: out, env };
}

/**
 * The command as people read it: what ran, then a trailing comment with the value of each
 * variable it refers to (JSON-quoted, so the comment stays on one line).
 */
export function describeBoundCommand(command: string, env: Record<string, string>): string {
  const names = Object.keys(env);
  if (names.length === 0) return command;
  return `${command}  # ${names.map((name) => `${name}=${JSON.stringify(env[name])}`).join(' ')}`;
}
