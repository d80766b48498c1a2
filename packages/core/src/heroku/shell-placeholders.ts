/**
 * Values in run commands reach the dyno as environment variables, never as command text: the
 * rendered command holds a marker where each `{{ value }}` was, and each marker becomes a
 * reference to a variable (`PB_1`, `PB_2`, ...) written for the shell context it stands in, so
 * the value comes out literally whether the author wrote it bare, in double or single quotes,
 * in `$'...'`, in backticks or in `$(...)`. The value itself is never parsed by the shell. A
 * command with values is refused when it uses a construct where the shell would evaluate a
 * value (arithmetic, nested shells, `eval`) or whose quoting the tracker cannot follow
 * (heredocs, `case`): see UNSAFE_WITH_VALUES.
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
 * Shell constructs that, in a command with values, could evaluate a value as code or that the
 * quoting tracker cannot follow (so a reference could come out unquoted). Bash evaluates a
 * variable's value as an arithmetic expression, array subscripts and `$(...)` in it included,
 * in `[[ -gt ]]`, `(( ))`, `$[ ]`, `let`, `declare -i`, `${s:offset}` and `a[index]`; a nested
 * shell (`sh -c '...'`, `eval`, `ssh host '...'`) parses what it is given again; heredoc bodies
 * and `case` patterns change the quoting rules. A command that has values and any of these is
 * refused as a whole, whatever the position of its values.
 */
const UNSAFE_WITH_VALUES: readonly { pattern: RegExp; what: string }[] = [
  { pattern: /\[\[|\]\]/, what: '[[ ]] (bash evaluates values in its numeric tests)' },
  { pattern: /\(\(|\$\[/, what: 'shell arithmetic ((( )), $(( )) or $[ ])' },
  {
    pattern: /(^|[\s;&|(`])(let|declare|typeset|local|readonly|export|read|mapfile|readarray|eval|source|exec|case|trap|alias|compgen|complete)(?=[\s;&|)]|$)/,
    what: 'a builtin that evaluates or names variables (let, declare, printf -v, read, eval, case, ...)',
  },
  { pattern: /(^|[\s;&|(`])printf\s+(-\S+\s+)*-v/, what: 'printf -v (it names a variable)' },
  { pattern: /(^|[\s;&|(`])(test|\[)\s+(!\s+)?(-\S+\s+)*-[vR](?=\s)/, what: 'test -v or [ -v ] (the value would name a variable, and its subscript is arithmetic)' },
  // Only ${NAME} itself: offsets, subscripts, indirection (${!x}) and pattern operators read a value as code or as a pattern.
  { pattern: /\$\{(?![A-Za-z_][A-Za-z0-9_]*\})/, what: '${...} with an operator (offsets, subscripts, ${!name} and patterns read values as code or patterns)' },
  { pattern: /[A-Za-z_][A-Za-z0-9_]*\[/, what: 'an array subscript (arithmetic)' },
  { pattern: /<</, what: 'a heredoc or here-string' },
  {
    pattern:
      /(^|[\s;&|(`'"/])(sh|bash|dash|zsh|ksh|ash|fish|su|sudo|ssh|watch|xargs|env|nohup|timeout|script|runuser|perl[\d.]*|python[\d.]*|ruby[\d.]*|node|nodejs|deno|bun|php[\d.]*|lua[\d.]*|awk|gawk|mawk|sed|dc|psql|mysql|mongosh|mongo|redis-cli|rails|rake|runner|irb|manage\.py)(?=[\s;&|)'"]|$)/,
    what: 'a command that runs its arguments as code (sh -c, ssh, su, xargs, rails runner, an interpreter, ...)',
  },
  { pattern: /(^|\s)\.\s/, what: '. (source)' },
  // Where the quoting tracker could lose its place: escaped quotes or blanks, a # that is not a
  // comment start, and blanks bash does not count as blanks.
  { pattern: /\\["'`\s]/, what: 'a backslash before a quote, a backtick or a blank' },
  { pattern: /[^\s]#/, what: '# inside a word' },
  // eslint-disable-next-line no-control-regex -- vertical tab and form feed are what this looks for
  { pattern: /[\u000B\u000C\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFEFF]/, what: 'a blank other than space, tab or newline' },
];

/** Throws when the author's text of a command with values uses a construct from UNSAFE_WITH_VALUES. */
function refuseUnsafeConstructs(rendered: string): void {
  const authored = rendered.replace(MARK, ' V ');
  for (const { pattern, what } of UNSAFE_WITH_VALUES) {
    if (pattern.test(authored)) {
      throw new PlaceholderError(`values from the incident cannot be used in a command with ${what}: the shell could run them as code. Use the values as plain arguments (echo "{{ incident.title }}"), or write the command without them`);
    }
  }
}

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
  if (values.length > 0) refuseUnsafeConstructs(rendered);
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
