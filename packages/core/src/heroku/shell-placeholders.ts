/**
 * Values in run commands reach the dyno as environment variables, never as command text: the
 * rendered command holds a marker where each `{{ value }}` was, and each marker becomes a quoted
 * reference to a variable (`PB_1`, `PB_2`, ...), so the value comes out as one literal piece of
 * data whether the author wrote it bare, inside a word, or in double or single quotes.
 *
 * A command with values must be written in a small subset of the shell, read here by a parser
 * that knows exactly where every quote, word and command starts (see `CommandParser`), so that no
 * reference can end up unquoted and no value can reach a place where bash evaluates text: simple
 * commands joined by `|`, `&&`, `||`, `;`, `&` and newlines; `if`/`while`/`until`/`for` loops;
 * words made of plain characters, `'single'` and `"double"` quotes, backslash escapes, `$NAME`,
 * `${NAME}` and `$(...)` (read by the same rules); redirections to written-out files; comments.
 * Everything else is refused, and so are commands and builtins that would read a value as code,
 * as a variable name or as an option that names one (eval, declare, read, test, printf -v, sh -c,
 * interpreters, ...). A command without values is passed on as written.
 */

/** Brackets a value's index in a rendered command (Private Use characters, refused in templates). */
export const MARK_OPEN = '\uE000';
export const MARK_CLOSE = '\uE001';
const MARK = /\uE000(\d+)\uE001/g;
const MARK_AT = /^\uE000(\d+)\uE001/;
const STRAY_MARK = /[\uE000\uE001]/g;

export const ENV_PREFIX = 'PB_';

export class PlaceholderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlaceholderError';
  }
}

const ALLOWED =
  'a command with values may use: simple commands joined by |, &&, ||, ; and newlines; if, while, until and for loops; ' +
  "words, 'single' and \"double\" quotes, $NAME, ${NAME} and $(...); redirections to files written out; # comments. " +
  'Values may be arguments: bare, inside a word or inside quotes';

/** Bash's reserved words that start or continue a compound command the parser follows. */
const KEYWORDS_THEN_COMMAND = new Set(['if', 'then', 'elif', 'else', 'while', 'until', 'do', '!']);
const KEYWORDS_ENDING = new Set(['fi', 'done']);
const KEYWORDS_REFUSED = new Set(['case', 'esac', 'select', 'function', 'coproc', 'in', 'time']);

/** Builtins that treat their arguments as plain data: values may be their arguments. */
const BUILTINS_SAFE = new Set(['echo', 'cd', 'pwd', 'true', 'false', ':']);
/** Builtins that are harmless when written out, but read a value as a number or an option: no values in their arguments. */
const BUILTINS_WITHOUT_VALUES = new Set(['exit', 'return', 'break', 'continue', 'shift', 'set', 'wait', 'umask', 'ulimit', 'times', 'type', 'kill']);
/**
 * Every other bash builtin reads an argument as code, as a variable name (whose array subscript
 * is arithmetic, `$(...)` included), as a job or as a file to run: refused in commands with values.
 */
const BUILTINS_REFUSED = new Set([
  '.', '[', 'alias', 'bg', 'bind', 'builtin', 'caller', 'command', 'compgen', 'complete', 'compopt', 'declare', 'dirs', 'disown',
  'enable', 'eval', 'exec', 'export', 'fc', 'fg', 'getopts', 'hash', 'help', 'history', 'jobs', 'let', 'local', 'logout',
  'mapfile', 'popd', 'pushd', 'read', 'readarray', 'readonly', 'shopt', 'source', 'suspend', 'test', 'trap', 'typeset',
  'unalias', 'unset',
]);

/**
 * Programs that run their arguments (or their input) as code or as another command: shells,
 * wrappers that run a command line, interpreters and tools with a language of their own. Refused
 * wherever they appear as a written-out word in a command with values (so `find -exec sh`,
 * `bundle exec ruby -e` and `heroku run bash` are refused as well as `sh -c`). Compared by base
 * name, without a trailing version (`/usr/bin/python3.11` is `python`).
 */
const RUNS_CODE = new Set([
  'sh', 'bash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'csh', 'tcsh', 'fish', 'busybox',
  'su', 'sudo', 'doas', 'runuser', 'ssh', 'script', 'watch', 'xargs', 'parallel', 'env', 'nohup', 'timeout', 'nice',
  'ionice', 'setsid', 'stdbuf', 'chroot', 'flock', 'strace', 'unbuffer', 'expect',
  'perl', 'python', 'ruby', 'irb', 'pry', 'ipython', 'node', 'nodejs', 'deno', 'bun', 'php', 'lua', 'tclsh', 'jshell',
  'Rscript', 'julia', 'elixir', 'iex', 'erl', 'awk', 'gawk', 'mawk', 'nawk', 'sed', 'dc', 'm4',
  'psql', 'mysql', 'sqlite', 'mongosh', 'mongo', 'redis-cli', 'rails', 'rake', 'runner', 'manage.py',
]);
/** How each bash builtin is treated in a command with values (`printf` needs a written-out format first). */
export const BASH_BUILTIN_CLASSES = {
  safe: BUILTINS_SAFE,
  withoutValues: BUILTINS_WITHOUT_VALUES,
  refused: BUILTINS_REFUSED,
  formatFirst: new Set(['printf']),
} as const;

/** `find` runs a command with these. */
const FIND_EXEC = new Set(['-exec', '-execdir', '-ok', '-okdir']);

/** Characters a word may hold outside quotes. */
const PLAIN = /[A-Za-z0-9_@%+=:,./~^*?!#-]/;
/** Characters that end a word outside quotes. */
const METACHAR = /[ \t\n;&|<>()]/;
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*/;
/** Control characters other than tab and newline. */
// eslint-disable-next-line no-control-regex -- control characters are what this looks for
const CONTROL = /[\u0000-\u0008\u000B-\u001F\u007F]/;

interface Word {
  /** The word's text after quote removal, or null when it holds a value or an expansion. */
  literal: string | null;
  hasValue: boolean;
  /** Written with plain characters only (no quotes or escapes): only such a word can be a keyword. */
  plain: boolean;
  /** Where the word starts in the rendered command. */
  start: number;
}

interface SimpleCommand {
  name: string;
  base: string;
  args: Word[];
}

/**
 * Reads a rendered command with value markers by the grammar above and writes it out with each
 * marker replaced by a quoted reference to its variable. Throws a PlaceholderError naming what is
 * not allowed, and where.
 */
class CommandParser {
  private i = 0;
  private out = '';

  constructor(
    private readonly text: string,
    private readonly variable: (index: number) => string,
  ) {}

  parse(): string {
    this.list(false);
    return this.out;
  }

  private fail(what: string, at = this.i): never {
    const line = this.text.slice(0, at).split('\n').length;
    const snippet = this.text.slice(at, at + 24).replace(MARK, '{{…}}').split('\n')[0] ?? '';
    throw new PlaceholderError(`${what} is not allowed in a command with values (line ${line}, at ${JSON.stringify(snippet)}): ${ALLOWED}`);
  }

  private at(offset = 0): string {
    return this.text[this.i + offset] ?? '';
  }

  private copy(count: number): void {
    this.out += this.text.slice(this.i, this.i + count);
    this.i += count;
  }

  /** The index of the value marker at the cursor, moving past it. */
  private marker(): number {
    const match = MARK_AT.exec(this.text.slice(this.i, this.i + 24));
    if (!match) this.fail('a reserved character (U+E000 or U+E001)');
    this.i += match[0].length;
    return Number(match[1]);
  }

  /** A list of commands, up to the end of the text or, inside `$(`, to its `)`. */
  private list(inSubstitution: boolean): void {
    let expectCommand = true;
    let current: SimpleCommand | null = null;
    let forLoop = false;
    const end = () => {
      if (current) this.checkCommand(current);
      current = null;
      forLoop = false;
    };
    while (this.i < this.text.length) {
      const c = this.at();
      const next = this.at(1);
      if (c === ' ' || c === '\t') {
        this.copy(1);
        continue;
      }
      if (c === '\\' && next === '\n') {
        this.copy(2);
        continue;
      }
      if (c === '#') {
        this.comment();
        continue;
      }
      if (c === ')') {
        if (!inSubstitution) this.fail('a ) without its (');
        end();
        return;
      }
      if (c === '(') this.fail('( ) (subshells, functions and arrays)');
      const redirect = /^(?:&>>?|\d*(?:>>|>&|>\||<>|<&|>|<))/.exec(this.text.slice(this.i, this.i + 12));
      if (redirect) {
        this.redirect(redirect[0]);
        continue;
      }
      if (c === '\n' || c === ';' || c === '&' || c === '|') {
        if (c === ';' && next === ';') this.fail(';; (case)');
        end();
        this.copy(c === next && c !== '\n' ? 2 : 1);
        expectCommand = true;
        continue;
      }
      const word = this.word();
      if (forLoop) {
        // `for NAME in words`: the name is written out; the words are data.
        if (current === null) {
          if (word.literal === null || !word.plain || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(word.literal)) this.fail('a for loop whose variable is not a plain name', word.start);
          current = { name: 'for', base: 'for', args: [] };
        }
        continue;
      }
      if (!expectCommand) {
        current?.args.push(word);
        continue;
      }
      if (word.hasValue || word.literal === null) this.fail('a command name that is not written out (from a value, a variable or $(...))', word.start);
      const name = word.literal;
      if (word.plain && KEYWORDS_THEN_COMMAND.has(name)) continue;
      if (word.plain && KEYWORDS_ENDING.has(name)) {
        expectCommand = false;
        continue;
      }
      if (word.plain && name === 'for') {
        forLoop = true;
        expectCommand = false;
        continue;
      }
      if (word.plain && KEYWORDS_REFUSED.has(name)) this.fail(name, word.start);
      if (/^[A-Za-z_][A-Za-z0-9_]*\+?=/.test(this.text.slice(word.start, word.start + 256))) this.fail('a variable assignment', word.start);
      current = { name, base: commandBase(name), args: [] };
      this.checkName(current, word);
      expectCommand = false;
    }
    if (inSubstitution) this.fail('a $( without its )');
    end();
  }

  private checkName(command: SimpleCommand, word: Word): void {
    if (RUNS_CODE.has(command.base)) this.fail(`${command.name} (it runs its arguments as code)`, word.start);
    if (command.name.includes('/')) {
      if (command.base === 'test' || command.base === '[') this.fail(`${command.name} (it reads a value that starts with - as an operator)`, word.start);
      return;
    }
    if (BUILTINS_REFUSED.has(command.name)) this.fail(`${command.name} (a builtin that reads its arguments as code, variable names, jobs or files to run)`, word.start);
  }

  /** Checks what depends on a whole simple command, once its arguments are read. */
  private checkCommand(command: SimpleCommand): void {
    const { name, base, args } = command;
    for (const arg of args) {
      if (arg.literal === null) continue;
      const argBase = commandBase(arg.literal);
      if (RUNS_CODE.has(argBase)) this.fail(`${arg.literal} as an argument (a command that runs its arguments as code)`, arg.start);
      if (base === 'find' && FIND_EXEC.has(arg.literal)) this.fail(`find ${arg.literal} (it runs a command)`, arg.start);
    }
    if (base === 'printf') {
      const first = args[0];
      if (first === undefined || first.hasValue || first.literal === null || first.literal.startsWith('-v')) {
        this.fail('printf without a written-out format first (a value or -v there could name a variable)', first?.start ?? this.i);
      }
    }
    if (!name.includes('/') && BUILTINS_WITHOUT_VALUES.has(name)) {
      const withValue = args.find((arg) => arg.hasValue);
      if (withValue) this.fail(`a value as an argument of ${name}`, withValue.start);
    }
  }

  private comment(): void {
    while (this.i < this.text.length && this.at() !== '\n') {
      if (this.at() === MARK_OPEN) this.out += `\${${this.variable(this.marker())}}`;
      else this.copy(1);
    }
  }

  private redirect(operator: string): void {
    if (this.text.startsWith('<<', this.i)) this.fail('a heredoc or here-string (<<)');
    this.copy(operator.length);
    const c = this.at();
    if (c === '(') this.fail('process substitution');
    if (operator.endsWith('&') && /[\d-]/.test(c)) {
      while (/[\d-]/.test(this.at())) this.copy(1);
      return;
    }
    while (this.at() === ' ' || this.at() === '\t') this.copy(1);
    const start = this.i;
    if (this.i >= this.text.length || METACHAR.test(this.at())) this.fail('a redirection without a file', start);
    const target = this.word();
    if (target.hasValue || target.literal === null) this.fail('a redirection to a file that is not written out', start);
  }

  /** One word: plain characters, quotes, escapes, expansions and values, up to a blank or an operator. */
  private word(): Word {
    const word: Word = { literal: '', hasValue: false, plain: true, start: this.i };
    const append = (text: string) => {
      if (word.literal !== null) word.literal += text;
    };
    while (this.i < this.text.length) {
      const c = this.at();
      if (METACHAR.test(c)) break;
      if (c === MARK_OPEN) {
        this.out += `"\${${this.variable(this.marker())}}"`;
        word.hasValue = true;
        word.literal = null;
        word.plain = false;
      } else if (c === "'") {
        word.plain = false;
        this.singleQuoted(word);
      } else if (c === '"') {
        word.plain = false;
        this.doubleQuoted(word);
      } else if (c === '$') {
        word.plain = false;
        word.literal = null;
        this.dollar(false);
      } else if (c === '\\') {
        word.plain = false;
        const next = this.at(1);
        if (next === '' || next === MARK_OPEN || CONTROL.test(next)) this.fail('a backslash before a value, a control character or the end');
        if (next === '\n') this.copy(2);
        else {
          append(next);
          this.copy(2);
        }
      } else if (c === '`') {
        this.fail('backticks (write $(...) instead)');
      } else if (c === '{' || c === '}' || c === '[' || c === ']') {
        this.fail(`${c} outside quotes (brace expansion, arrays and tests)`);
      } else if (PLAIN.test(c)) {
        append(c);
        this.copy(1);
      } else if (c.charCodeAt(0) > 0x7e) {
        this.fail('a character other than ASCII outside quotes (put such text in quotes)');
      } else {
        this.fail(`${JSON.stringify(c)} outside quotes`);
      }
    }
    return word;
  }

  private singleQuoted(word: Word): void {
    const start = this.i;
    this.copy(1);
    for (;;) {
      const c = this.at();
      if (c === '') this.fail("a ' without its closing quote", start);
      if (c === "'") {
        this.copy(1);
        return;
      }
      if (c === MARK_OPEN) {
        // Close the quote, reference the value in double quotes, open it again.
        this.out += `'"\${${this.variable(this.marker())}}"'`;
        word.hasValue = true;
        word.literal = null;
        continue;
      }
      if (CONTROL.test(c)) this.fail('a control character');
      if (word.literal !== null) word.literal += c;
      this.copy(1);
    }
  }

  private doubleQuoted(word: Word): void {
    const start = this.i;
    this.copy(1);
    for (;;) {
      const c = this.at();
      if (c === '') this.fail('a " without its closing quote', start);
      if (c === '"') {
        this.copy(1);
        return;
      }
      if (c === MARK_OPEN) {
        this.out += `\${${this.variable(this.marker())}}`;
        word.hasValue = true;
        word.literal = null;
      } else if (c === '\\') {
        const next = this.at(1);
        if (next === '' || next === MARK_OPEN || CONTROL.test(next)) this.fail('a backslash before a value, a control character or the end');
        if (word.literal !== null && next !== '\n') word.literal += '"\\$`'.includes(next) ? next : `\\${next}`;
        this.copy(2);
      } else if (c === '$') {
        word.literal = null;
        this.dollar(true);
      } else if (c === '`') {
        this.fail('backticks (write $(...) instead)');
      } else if (CONTROL.test(c)) {
        this.fail('a control character');
      } else {
        if (word.literal !== null) word.literal += c;
        this.copy(1);
      }
    }
  }

  /** `$NAME`, `${NAME}`, a special parameter, `$(...)`, or a `$` that stands for itself. */
  private dollar(inDouble: boolean): void {
    const rest = this.text.slice(this.i + 1, this.i + 258);
    const next = rest[0] ?? '';
    const name = IDENTIFIER.exec(rest);
    if (name) {
      this.copy(1 + name[0].length);
      return;
    }
    if (next === '{') {
      const braced = /^\{[A-Za-z_][A-Za-z0-9_]*\}/.exec(rest);
      if (!braced) this.fail('${...} other than ${NAME} (offsets, subscripts, indirection and patterns)');
      this.copy(1 + braced[0].length);
      return;
    }
    if (/^[?$#!@*0-9-]/.test(next)) {
      this.copy(2);
      return;
    }
    if (next === '(') {
      if (rest[1] === '(') this.fail('shell arithmetic ($(( )))');
      this.copy(2);
      this.list(true);
      this.copy(1);
      return;
    }
    if (next === '[') this.fail('shell arithmetic ($[ ])');
    // A `$` before a blank, the end of the word or the closing quote is a plain `$`.
    if (next === '' || next === ' ' || next === '\t' || next === '\n' || (inDouble ? next === '"' : METACHAR.test(next))) {
      this.copy(1);
      return;
    }
    this.fail(`$${next === MARK_OPEN ? '{{…}}' : next} (only $NAME, \${NAME} and $(...) may follow a $)`);
  }
}

/** A command word's base name without a trailing version: `/usr/bin/python3.11` is `python`. */
function commandBase(name: string): string {
  const base = name.slice(name.lastIndexOf('/') + 1);
  const unversioned = base.replace(/[\d.]+$/, '');
  return unversioned === '' || unversioned.endsWith('.') ? base : unversioned;
}

/**
 * Replaces the value markers of a rendered command by variable references; `values[i]` is the
 * value of marker i. Equal values share one variable. Markers inside a value (a `capture` that
 * is output again) become the value they stand for. A command with values must follow the
 * grammar described at the top of this file.
 */
export function bindPlaceholders(
  rendered: string,
  values: readonly string[],
  limits: { maxValues: number; maxChars: number },
): { command: string; env: Record<string, string> } {
  if (values.length === 0) return { command: rendered, env: {} };
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
  return { command: new CommandParser(rendered, variable).parse(), env };
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
