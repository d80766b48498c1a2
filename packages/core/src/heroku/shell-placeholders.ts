import { posix } from 'node:path';

/**
 * Values in run commands reach the dyno as environment variables, never as command text: the
 * rendered command holds a marker where each `{{ value }}` was, and each marker becomes a quoted
 * reference to a variable (`PB_1`, `PB_2`, ...), so the value comes out as one literal piece of
 * data whether the author wrote it bare, inside a word, or in double or single quotes.
 *
 * A command with values must be written in a small subset of the shell, read here by a parser
 * that knows exactly where every quote, word and command starts (see `CommandParser`), so that no
 * reference can end up unquoted and no value can reach a place where the shell evaluates text:
 * simple commands joined by `|`, `&&`, `||`, `;`, `&` and newlines; `if`, `while`, `until` and
 * `for NAME in WORDS` blocks nested as bash's grammar says; words made of plain characters,
 * `'single'` and `"double"` quotes, backslash escapes and `"$NAME"`; redirections from files and
 * to /dev/null; comments. Values may be arguments of the app's own scripts, `echo` and `printf`
 * only; a few builtins and text filters may run with written-out arguments. Everything else is
 * refused: other programs and builtins (no list of those that run code could be complete), any
 * way for a value to reach a named variable, a pattern or a written file, `$(...)`, and a value
 * that would start an option of a script. A command without values is passed on as written.
 */

/**
 * Brackets a value's index in a rendered command (Private Use characters, refused in templates).
 * Each render has its own nonce in its markers, so text that only looks like a marker (a value
 * holding these characters, or made by a filter) never stands for another value.
 */
export const MARK_OPEN = '\uE000';
export const MARK_CLOSE = '\uE001';
const STRAY_MARK = /[\uE000\uE001]/g;

/** The marker of value `index` in a render with `nonce`. */
export function valueMarker(nonce: string, index: number): string {
  return `${MARK_OPEN}${index}.${nonce}${MARK_CLOSE}`;
}

function markerPattern(nonce: string, flags: string): RegExp {
  return new RegExp(`\\uE000(\\d+)\\.${nonce}\\uE001`, flags);
}

export const ENV_PREFIX = 'PB_';

export class PlaceholderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PlaceholderError';
  }
}

const ALLOWED =
  'a command with values may use: simple commands joined by |, &&, ||, ; and newlines; if, while, until and for loops; ' +
  "words, 'single' and \"double\" quotes, \"$NAME\"; redirections from files and to /dev/null; # comments. " +
  "Values may be arguments of the app's own scripts (bin/...), echo and printf: bare, inside a word or inside quotes";

/** Builtins that print their arguments: values may be their arguments (and printf's, after a written-out format). */
const BUILTINS_SAFE = new Set(['echo']);
/**
 * Builtins that are harmless when written out, but read a value as a number or an option: no
 * values in their arguments. (`cd` is refused: after `cd /`, `bin/tar` is a system program that
 * looks like one of the app's scripts.)
 */
const BUILTINS_WITHOUT_VALUES = new Set(['pwd', 'true', 'false', ':', 'exit', 'return', 'break', 'continue', 'shift', 'set', 'wait', 'umask', 'ulimit', 'times', 'type', 'kill']);
/**
 * Every other bash builtin reads an argument as code, as a variable name (whose array subscript
 * is arithmetic, `$(...)` included), as a job or as a file to run: refused in commands with values.
 */
const BUILTINS_REFUSED = new Set([
  '.', '[', 'alias', 'bg', 'bind', 'builtin', 'caller', 'cd', 'command', 'compgen', 'complete', 'compopt', 'declare', 'dirs', 'disown',
  'enable', 'eval', 'exec', 'export', 'fc', 'fg', 'getopts', 'hash', 'help', 'history', 'jobs', 'let', 'local', 'logout',
  'mapfile', 'popd', 'pushd', 'read', 'readarray', 'readonly', 'shopt', 'source', 'suspend', 'test', 'trap', 'typeset',
  'unalias', 'unset',
]);

/** How each bash builtin is treated in a command with values (`printf` needs a written-out format first). */
export const BASH_BUILTIN_CLASSES = {
  printsValues: BUILTINS_SAFE,
  withoutValues: BUILTINS_WITHOUT_VALUES,
  refused: BUILTINS_REFUSED,
  formatFirst: new Set(['printf']),
} as const;

/** `set` options a command with values may use: errors and unset variables stop it, pipelines fail. */
const SET_OPTIONS = /^(?:[-+][eu]*o?|pipefail|errexit|nounset)$/;

/**
 * Programs that run their arguments or their input as code or as another command: shells,
 * wrappers that run a command line, interpreters, editors and tools with a shell escape.
 * Refused wherever they appear as a written-out word in a command with values (so `find -exec
 * sh`, `bundle exec ruby -e` and `heroku run bash` are refused as well as `sh -c`). Compared by
 * base name, without a trailing version (`/usr/bin/python3.11` is `python`). No list can name
 * every such program: this one names the common ones.
 */
const RUNS_CODE = new Set([
  'sh', 'bash', 'rbash', 'dash', 'zsh', 'ksh', 'mksh', 'ash', 'yash', 'posh', 'csh', 'tcsh', 'fish', 'elvish', 'nu', 'xonsh', 'pwsh', 'busybox',
  'su', 'sudo', 'doas', 'pkexec', 'runuser', 'sg', 'newgrp', 'ssh', 'ssh-agent', 'script', 'screen', 'tmux', 'watch', 'xargs', 'parallel',
  'env', 'nohup', 'timeout', 'time', 'nice', 'ionice', 'chrt', 'taskset', 'setarch', 'setsid', 'stdbuf', 'unbuffer', 'prlimit', 'unshare',
  'nsenter', 'chroot', 'flock', 'strace', 'ltrace', 'valgrind', 'gdb', 'lldb', 'firejail', 'bwrap', 'systemd-run', 'xvfb-run', 'run-parts',
  'at', 'batch', 'crontab', 'expect', 'socat', 'mail', 'mailx', 'setpriv', 'linux32', 'linux64', 'i386', 'x86_64', 'uname26', 'ld.so',
  'perl', 'python', 'ruby', 'irb', 'pry', 'ipython', 'node', 'nodejs', 'deno', 'bun', 'php', 'lua', 'luajit', 'tclsh', 'wish', 'jshell',
  'Rscript', 'julia', 'elixir', 'iex', 'erl', 'awk', 'gawk', 'mawk', 'nawk', 'sed', 'dc', 'm4', 'ed', 'ex', 'vi', 'vim', 'nvim', 'emacs',
  'make', 'gmake', 'npx', 'npm', 'yarn', 'pnpm', 'bundle', 'heroku', 'foreman', 'honcho', 'docker', 'podman', 'kubectl',
  // What buildpacks and frameworks put in an app's bin/: Ruby's binstubs, Rails' and the JVM's launchers.
  'erb', 'gem', 'rdbg', 'ri', 'rdoc', 'racc', 'thrust', 'docker-entrypoint', 'dev', 'java', 'jdb', 'jrunscript', 'spring',
  'psql', 'mysql', 'sqlite', 'mongosh', 'mongo', 'redis-cli', 'rails', 'rake', 'runner', 'manage.py',
]);
/**
 * Variables a command with values may not expand: `$_` holds the last argument of the previous
 * command and `cd {{ ... }}` sets `PWD`, `OLDPWD` and `DIRSTACK` (values); others name a shell
 * or hold what a refused construct set.
 */
const REFUSED_VARIABLES = new Set(['_', 'PWD', 'OLDPWD', 'DIRSTACK', 'BASH', 'SHELL', 'BASH_COMMAND', 'BASH_EXECUTION_STRING', 'BASH_ARGV', 'BASH_ARGV0', 'BASH_REMATCH', 'REPLY', 'OPTARG', 'MAPFILE', 'COPROC', 'READLINE_LINE']);

/**
 * Programs a command with values may also run, with written-out arguments only and only the
 * options listed (others name files to read or write, read programs or patterns from a file, or
 * run programs: sort --compress-program, -o; grep -f; jq -f, --rawfile; wc --files0-from): they
 * read text and files the author names, write only to standard output and run nothing. Values
 * reach them only as text on standard input (`echo {{ ... }} | sort | uniq -c`).
 */
const FILTER_OPTIONS: Record<string, RegExp> = {
  cat: /^-[AbeEnstTuv]+$/,
  ls: /^-[1aAdFhlrRStu]+$/,
  head: /^-[nc]?\d*$|^-[qv]$/,
  tail: /^-[nc]?\+?\d*$|^-[qvfF]$/,
  wc: /^-[clmwL]+$/,
  grep: /^-[EFGiIvwxcnlLhHoqsrRaPm0-9ABC]+$|^-e$|^--(?:count|ignore-case|invert-match|line-number|files-with-matches|recursive|extended-regexp|fixed-strings|word-regexp|only-matching|quiet|no-filename|with-filename|max-count=\d+|(?:before-|after-)?context=\d+|include=[^/]+|exclude=[^/]+|color=never)$/,
  sort: /^-[bdfghiMnrsuVk0-9]+$|^-t.?$|^-k[\d.,a-zA-Z]*$|^--(?:reverse|numeric-sort|unique|human-numeric-sort|version-sort|ignore-case)$/,
  uniq: /^-[cdDiuz]+$|^-[fsw]\d+$/,
  cut: /^-[bcdfsz].*$/,
  tr: /^-[cdst]+$/,
  nl: /^-[bnsvw].*$/,
  fold: /^-[bsw]\d*$/,
  rev: /^$/,
  tac: /^-[br]+$/,
  date: /^-[uRI]+$|^--(?:utc|iso-8601(?:=\w+)?|rfc-3339=\w+)$/,
  sleep: /^$/,
  basename: /^$/,
  dirname: /^$/,
  jq: /^-[rcensSja]+$|^--(?:raw-output|compact-output|exit-status|null-input|slurp|sort-keys|join-output|ascii-output|tab)$/,
};
const FILTERS = new Set(Object.keys(FILTER_OPTIONS));
/** Filters whose second operand is a file they write. */
const ONE_OPERAND = new Set(['uniq']);
const ALLOWED_PROGRAMS_TEXT = `echo, printf, the builtins pwd, true, false, :, exit, set, wait and the like (without values), or one of ${[...FILTERS].join(', ')} (without values)`;

/** Where an app's dependencies keep their programs: general-purpose tools, not the app's own scripts. */
const DEPENDENCY_DIRECTORIES = new Set(['node_modules', 'vendor', '.heroku', '.apt', '.bundle', '.cache', 'venv', '.venv', '.jdk', '.local', '.yarn', '.m2', '.gradle', '.sbt', '.cargo']);

/** Bash variables that run code or change how commands are found: never a loop variable. */
const LOWERCASE_SPECIALS = new Set(['histchars', 'auto_resume']);

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
  /**
   * The values before the word's first written character (expansions between them may be
   * empty): the word's text starts with the first of them that is not empty.
   */
  leadingValues: number[];
  /** The word starts with a written `-` and holds a value that no `=` comes before. */
  valueInOption: boolean;
  /** Written with plain characters only (no quotes or escapes): only such a word can be a keyword. */
  plain: boolean;
  /** Where the word starts and ends in the rendered command. */
  start: number;
  end: number;
}

interface SimpleCommand {
  name: string;
  base: string;
  args: Word[];
}

type LoopHead = { state: 'name' } | { state: 'in-or-end' } | { state: 'words' };
type Block = { kind: 'if'; stage: 'cond' | 'body' | 'else' } | { kind: 'loop'; stage: 'cond' | 'body' };

/** Bash's reserved words; those the grammar does not allow are refused where a command starts. */
const RESERVED_WORDS = new Set(['if', 'then', 'elif', 'else', 'fi', 'while', 'until', 'for', 'do', 'done', '!', 'case', 'esac', 'select', 'function', 'coproc', 'in', 'time', '{', '}', '[[', ']]']);
type Expansion = 'variable' | 'literal';

/**
 * Reads a rendered command with value markers by the grammar above and writes it out with each
 * marker replaced by a quoted reference to its variable. Throws a PlaceholderError naming what is
 * not allowed, and where.
 */
class CommandParser {
  private i = 0;
  private out = '';
  private readonly markerAt: RegExp;

  constructor(
    private readonly text: string,
    nonce: string,
    private readonly variable: (index: number) => string,
    private readonly valueOf: (index: number) => string,
  ) {
    this.markerAt = markerPattern(nonce, 'y');
  }

  parse(): string {
    this.list();
    return this.out;
  }

  private fail(what: string, at = this.i): never {
    const line = this.text.slice(0, at).split('\n').length;
    const snippet = this.text.slice(at, at + 400).replace(/\uE000\d+\.[0-9a-f]+\uE001/g, '{{…}}').slice(0, 24).split('\n')[0] ?? '';
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
    this.markerAt.lastIndex = this.i;
    const match = this.markerAt.exec(this.text);
    if (!match) this.fail('a reserved character (U+E000 or U+E001)');
    this.i += match[0].length;
    return Number(match[1]);
  }

  /** A backslash: refused before a newline (the shells join the lines before they read words), a value, a control character or the end. */
  private checkBackslash(): void {
    const next = this.at(1);
    if (next === '\n') this.fail('a backslash at the end of a line (write the command on one line)');
    if (next === '' || next === MARK_OPEN || CONTROL.test(next)) this.fail('a backslash before a value, a control character or the end');
  }

  /**
   * A list of commands, up to the end of the text or, inside `$(`, to its `)`. Blocks follow
   * bash's grammar exactly (`if LIST; then LIST; [elif LIST; then LIST;]... [else LIST;] fi`,
   * `while|until LIST; do LIST; done`, `for NAME in WORDS; do LIST; done`): every LIST holds a
   * command, every operator has a command on each side, and reserved words count only where a
   * command starts.
   */
  private list(): void {
    const start = this.i;
    /** The next word starts a command. */
    let expectCommand = true;
    /** An operator or reserved word was read that must be followed by a command. */
    let needCommand = false;
    /** A command (or a whole block) ends here: an operator or separator may follow. */
    let ended = false;
    /** After `fi` or `done`: only a separator or a redirection may follow. */
    let closed = false;
    /** A redirection came before the command's first word (a reserved word cannot follow it). */
    let redirected = false;
    let current: SimpleCommand | null = null;
    let loopHead: LoopHead | null = null;
    const blocks: Block[] = [];
    /** Whether the list of the innermost block's stage (or the whole list) has a command yet. */
    let stageHasCommand = false;
    const end = () => {
      if (current) this.checkCommand(current);
      current = null;
      closed = false;
      redirected = false;
    };
    const stage = (next: Block['stage'], from: Block['stage'][], kind: Block['kind'], word: Word) => {
      const top = blocks[blocks.length - 1];
      if (top === undefined || top.kind !== kind || !from.includes(top.stage)) this.fail(`${word.literal} where bash does not expect it`, word.start);
      if (!stageHasCommand) this.fail(`${word.literal} after an empty list`, word.start);
      top.stage = next;
      stageHasCommand = false;
    };
    while (this.i < this.text.length) {
      const c = this.at();
      const next = this.at(1);
      if (c === ' ' || c === '\t') {
        this.copy(1);
        continue;
      }
      if (c === '#') {
        this.comment();
        continue;
      }
      if (c === '(' || c === ')') this.fail('( ) (subshells, functions and arrays)');
      if (c === '&' && next === '>') this.fail('&> (bash reads it as a redirection, sh as & and >: write >file 2>&1)');
      const redirect = /\d*(?:>>|>&|>\||<>|<&|>|<)/y;
      redirect.lastIndex = this.i;
      const operator = redirect.exec(this.text);
      if (operator) {
        if (loopHead !== null) this.fail('a redirection in a for loop head');
        if (expectCommand && !closed) redirected = true;
        this.redirect(operator[0]);
        continue;
      }
      if (c === '\n' || c === ';' || c === '&' || c === '|') {
        const op = c === next && c !== '\n' ? c + c : c;
        if (op === ';;') this.fail(';; (case)');
        if (op === '|' && next === '&') this.fail('|& (write 2>&1 |)');
        // A background job could still print after the exit status pulsebridge reads.
        if (op === '&') this.fail('& (a background job)');
        if (loopHead !== null) {
          if (loopHead.state !== 'words' || (op !== ';' && op !== '\n')) this.fail('a for loop head other than "for name in words;"');
          loopHead = null;
          stageHasCommand = true;
          this.copy(1);
          expectCommand = true;
          continue;
        }
        if (op === '\n') {
          // A newline ends a command; after an operator or a reserved word it is only a blank.
          if (ended) end();
          ended = false;
          this.copy(1);
          expectCommand = true;
          continue;
        }
        if (!ended) this.fail(`${op} without a command before it`);
        end();
        ended = false;
        needCommand = op === '&&' || op === '||' || op === '|';
        this.copy(op.length);
        expectCommand = true;
        continue;
      }
      const word = this.word();
      if (loopHead !== null) {
        // `for NAME in WORDS` up to its separator: the name is a plain lowercase name, the words are written out.
        if (loopHead.state === 'name') {
          if (!word.plain || word.literal === null || !/^[a-z_][a-z0-9_]*$/.test(word.literal) || LOWERCASE_SPECIALS.has(word.literal)) {
            this.fail('a for loop whose variable is not a plain lowercase name', word.start);
          }
          loopHead = { state: 'in-or-end' };
        } else if (loopHead.state === 'in-or-end') {
          if (!word.plain || word.literal !== 'in') this.fail('a for loop without "in WORDS;" after its variable', word.start);
          loopHead = { state: 'words' };
        } else if (word.literal === null) {
          this.fail('a for loop word that is not written out (its variable would carry a value where it cannot be checked)', word.start);
        }
        continue;
      }
      if (closed) this.fail('a word after fi or done', word.start);
      if (!expectCommand) {
        current?.args.push(word);
        continue;
      }
      if (word.hasValue || word.literal === null) this.fail('a command name that is not written out (from a value or a variable)', word.start);
      const name = word.literal;
      if (word.plain && RESERVED_WORDS.has(name)) {
        if (redirected) this.fail(`${name} after a redirection`, word.start);
        switch (name) {
          case 'if':
            blocks.push({ kind: 'if', stage: 'cond' });
            stageHasCommand = false;
            break;
          case 'while':
          case 'until':
            blocks.push({ kind: 'loop', stage: 'cond' });
            stageHasCommand = false;
            break;
          case 'for':
            blocks.push({ kind: 'loop', stage: 'cond' });
            loopHead = { state: 'name' };
            break;
          case 'then':
            stage('body', ['cond'], 'if', word);
            break;
          case 'elif':
            stage('cond', ['body'], 'if', word);
            break;
          case 'else':
            stage('else', ['body'], 'if', word);
            break;
          case 'do':
            stage('body', ['cond'], 'loop', word);
            break;
          case 'fi':
          case 'done': {
            const top = blocks[blocks.length - 1];
            const kind = name === 'fi' ? 'if' : 'loop';
            if (top === undefined || top.kind !== kind || top.stage === 'cond') this.fail(`${name} where bash does not expect it`, word.start);
            if (!stageHasCommand) this.fail(`${name} after an empty list`, word.start);
            blocks.pop();
            closed = true;
            ended = true;
            needCommand = false;
            stageHasCommand = true;
            expectCommand = false;
            continue;
          }
          case '!':
            break;
          default:
            this.fail(name, word.start);
        }
        needCommand = name !== 'for';
        expectCommand = name !== 'for';
        continue;
      }
      if (/^[A-Za-z_][A-Za-z0-9_]*(?:\[|\+?=)/.test(this.text.slice(word.start, word.end))) this.fail('a variable assignment', word.start);
      if (/[*?]/.test(name)) this.fail('a command name with * or ? (a pattern could name any program)', word.start);
      current = { name, base: commandBase(name), args: [] };
      this.checkName(current, word);
      expectCommand = false;
      needCommand = false;
      ended = true;
      stageHasCommand = true;
    }
    if (loopHead !== null) this.fail('a for loop without do');
    if (needCommand) this.fail('an operator or reserved word without a command after it');
    if (blocks.length > 0) this.fail(`an ${blocks[blocks.length - 1]!.kind === 'if' ? 'if without its fi' : 'loop without its done'}`, start);
    end();
  }

  /**
   * A command with values runs the app's own scripts (a relative path such as `bin/diagnose`),
   * and besides only a few builtins and text filters: no list of programs that run their
   * arguments (or their options' arguments, or files they write) as code could be complete.
   * Values may be arguments of the app's scripts, `echo` and `printf` only (see checkCommand).
   */
  private checkName(command: SimpleCommand, word: Word): void {
    const { name, base } = command;
    if (RUNS_CODE.has(base)) this.fail(`${name} (it runs its arguments as code)`, word.start);
    if (name.includes('/')) {
      const segments = name.split('/');
      if (name.startsWith('/') || name.startsWith('~') || segments.includes('..') || segments.some((segment) => DEPENDENCY_DIRECTORIES.has(segment))) {
        this.fail(`${name} (with values, a command is one of the app's own scripts, a path such as bin/diagnose, or ${ALLOWED_PROGRAMS_TEXT})`, word.start);
      }
      return;
    }
    if (BUILTINS_REFUSED.has(name)) this.fail(`${name} (a builtin that reads its arguments as code, variable names, jobs or files to run)`, word.start);
    if (!BUILTINS_SAFE.has(name) && !BUILTINS_WITHOUT_VALUES.has(name) && name !== 'printf' && !FILTERS.has(name)) {
      this.fail(`${name} (with values, a command is one of the app's own scripts, a path such as bin/diagnose, or ${ALLOWED_PROGRAMS_TEXT})`, word.start);
    }
  }

  /** Checks what depends on a whole simple command, once its arguments are read. */
  private checkCommand(command: SimpleCommand): void {
    const { name, base, args } = command;
    const script = name.includes('/');
    for (const arg of args) {
      if (arg.literal !== null && runsCode(arg.literal)) this.fail(`${arg.literal} as an argument (a command that runs its arguments as code)`, arg.start);
    }
    if (!script && (FILTERS.has(name) || BUILTINS_WITHOUT_VALUES.has(name))) {
      // They take written-out arguments only: a value could be an option, a file or a place.
      const withValue = args.find((arg) => arg.hasValue);
      if (withValue) this.fail(`a value as an argument of ${name} (values may be arguments of the app's scripts, echo and printf; pipe them to ${name} instead)`, withValue.start);
      const options = FILTER_OPTIONS[name];
      if (options !== undefined) {
        let operands = 0;
        let optionsEnded = false;
        for (const arg of args) {
          // Written out in full, so the checks read what the program will (an empty "$X" could hide --output=).
          if (arg.literal === null) this.fail(`an argument of ${name} with $ in it (a filter's arguments are written out in full)`, arg.start);
          if (arg.literal === '--' && !optionsEnded) {
            optionsEnded = true;
            continue;
          }
          if (!optionsEnded && arg.literal.startsWith('-') && arg.literal !== '-') {
            if (!options.test(arg.literal)) this.fail(`${name} ${arg.literal} (with values, ${name} takes only options that read no file and run nothing)`, arg.start);
            continue;
          }
          // Standard input or a device as a file would let a value name files or be a program or patterns.
          const file = posix.normalize(arg.literal);
          if (arg.literal === '-' || /^\/(?:dev|proc)(?:\/|$)/.test(file) || file.split('/').includes('..')) this.fail(`${arg.literal} as a file of ${name}`, arg.start);
          operands += 1;
          if (ONE_OPERAND.has(name) && operands > 1) this.fail(`a second file for ${name} (it would write to it)`, arg.start);
        }
      }
      if (name === 'set') {
        const option = args.find((arg) => arg.literal === null || !SET_OPTIONS.test(arg.literal));
        if (option) this.fail('set with options other than -e, -u and -o pipefail/errexit/nounset', option.start);
      }
      return;
    }
    if (name === 'echo') {
      // bash's echo reads its leading arguments that look like options as options (-e reads escapes), up to the first that does not.
      for (const arg of args) {
        const first = arg.leadingValues.map((index) => this.valueOf(index)).find((text) => text !== '');
        if ((first !== undefined && first.startsWith('-')) || arg.valueInOption) {
          this.fail('a value that could make an option of echo (it would read -e; write text first, or use printf)', arg.start);
        }
        if (arg.literal === null || !arg.literal.startsWith('-')) break;
      }
      return;
    }
    if (base === 'printf') {
      const first = args[0];
      if (first === undefined || first.hasValue || first.literal === null || first.literal.startsWith('-')) {
        this.fail('printf without a written-out format first (a value there could be -v NAME or a format)', first?.start ?? this.i);
      }
      return;
    }
    if (!script) return;
    for (const arg of args) {
      // A script reads an argument that starts with - as an option, and `--` is no defence: it
      // may be an option's argument. So no argument may start with a value that would make it
      // one, wherever it stands.
      const first = arg.leadingValues.map((index) => this.valueOf(index)).find((text) => text !== '');
      if (first !== undefined && first.startsWith('-')) {
        this.fail(`a value that starts with "-" at the start of an argument of ${name} (it would be read as an option; write it after --name= or after text)`, arg.start);
      }
      if (arg.valueInOption) this.fail(`a value inside an option of ${name} other than after the = of a --long=option (it could add options)`, arg.start);
    }
  }

  private comment(): void {
    while (this.i < this.text.length && this.at() !== '\n') {
      if (this.at() === MARK_OPEN) this.out += `\${${this.variable(this.marker())}}`;
      else if (CONTROL.test(this.at())) this.fail('a control character');
      else this.copy(1);
    }
  }

  private redirect(operator: string): void {
    const start = this.i;
    if (operator.endsWith('<') && this.text[this.i + operator.length] === '<') this.fail('a heredoc or here-string (<<)');
    if (operator.endsWith('>|')) this.fail('>| (write >)');
    this.copy(operator.length);
    if (this.at() === '(') this.fail('process substitution');
    while (this.at() === ' ' || this.at() === '\t') this.copy(1);
    if (this.i >= this.text.length || METACHAR.test(this.at()) || this.at() === '#') this.fail('a redirection without a file', start);
    const target = this.word();
    if (target.hasValue || target.literal === null || target.literal === '') this.fail('a redirection to a file that is not written out', start);
    // After >& or <&, a file descriptor or - (bash would read any other word as a file).
    if (operator.endsWith('&')) {
      if (!/^(?:\d+|-)$/.test(target.literal)) this.fail(`${operator} followed by something other than a file descriptor or -`, start);
      return;
    }
    // A file a command with values writes could hold a value and be run next (echo {{ x }} > s; ./s).
    if (/[>]/.test(operator) && target.literal !== '/dev/null') this.fail('a redirection that writes a file other than /dev/null', start);
  }

  /** One word: plain characters, quotes, escapes, expansions and values, up to a blank or an operator. */
  private word(): Word {
    const word: Word = { literal: '', hasValue: false, leadingValues: [], valueInOption: false, plain: true, start: this.i, end: this.i };
    /** No written character of the word has been read yet (empty quotes and expansions aside). */
    let empty = true;
    /** The word starts with a written `-` and is not past the `=` of a `--long=` option. */
    let option = false;
    let written = '';
    const append = (text: string) => {
      if (text === '') return;
      written += text;
      if (empty && text.startsWith('-')) option = true;
      if (option && /^--[^=]+=/.test(written)) option = false;
      empty = false;
      if (word.literal !== null) word.literal += text;
    };
    const value = (index: number) => {
      if (option) word.valueInOption = true;
      if (empty) word.leadingValues.push(index);
      word.hasValue = true;
      word.literal = null;
    };
    // An expansion may be empty: what follows it may still start the word.
    const expansion = (kind: Expansion) => {
      if (kind === 'literal') return append('$');
      word.literal = null;
    };
    while (this.i < this.text.length) {
      const c = this.at();
      if (METACHAR.test(c)) break;
      if (c === MARK_OPEN) {
        const index = this.marker();
        this.out += `"\${${this.variable(index)}}"`;
        value(index);
        word.plain = false;
      } else if (c === "'") {
        word.plain = false;
        this.singleQuoted(append, value);
      } else if (c === '"') {
        word.plain = false;
        this.doubleQuoted(append, value, expansion);
      } else if (c === '$') {
        word.plain = false;
        // Unquoted, the shell splits an expansion into words and expands patterns in them: values could become options or files.
        if (!/^[?#$!([]$/.test(this.at(1)) && this.at(1) !== '' && !/[\s;&|<>)]/.test(this.at(1))) this.fail('$NAME outside double quotes (write "$NAME")');
        expansion(this.dollar(false));
      } else if (c === '\\') {
        word.plain = false;
        this.checkBackslash();
        append(this.at(1));
        this.copy(2);
      } else if (c === '`') {
        this.fail('backticks');
      } else if (c === '{' || c === '}' || c === '[' || c === ']') {
        this.fail(`${c} outside quotes (brace expansion, arrays and tests)`);
      } else if (PLAIN.test(c)) {
        // A pattern can match files a value named (touch ./{{ x }}; tar ... *), and ~+ and ~- are the directories cd went to.
        if (c === '*' || c === '?') this.fail(`${c} outside quotes (a pattern can match files named by values)`);
        if (c === '~' && /[-+0-9]/.test(this.at(1))) this.fail(`~${this.at(1)} (a directory cd {{ ... }} went to)`);
        append(c);
        this.copy(1);
      } else if (c.charCodeAt(0) > 0x7e) {
        this.fail('a character other than ASCII outside quotes (put such text in quotes)');
      } else {
        this.fail(`${JSON.stringify(c)} outside quotes`);
      }
    }
    word.end = this.i;
    return word;
  }

  private singleQuoted(append: (text: string) => void, value: (index: number) => void): void {
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
        const index = this.marker();
        this.out += `'"\${${this.variable(index)}}"'`;
        value(index);
        continue;
      }
      if (CONTROL.test(c)) this.fail('a control character');
      append(c);
      this.copy(1);
    }
  }

  private doubleQuoted(append: (text: string) => void, value: (index: number) => void, expansion: (kind: Expansion) => void): void {
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
        const index = this.marker();
        this.out += `\${${this.variable(index)}}`;
        value(index);
      } else if (c === '\\') {
        this.checkBackslash();
        const next = this.at(1);
        append('"\\$`'.includes(next) ? next : `\\${next}`);
        this.copy(2);
      } else if (c === '$') {
        expansion(this.dollar(true));
      } else if (c === '`') {
        this.fail('backticks');
      } else if (CONTROL.test(c)) {
        this.fail('a control character');
      } else {
        append(c);
        this.copy(1);
      }
    }
  }

  /**
   * `$NAME` or `${NAME}` (no value can reach a named variable: loops over values, assignments,
   * `read` and `$PB_n` are refused), a special parameter, or a `$` that stands for itself.
   */
  private dollar(inDouble: boolean): Expansion {
    const rest = this.text.slice(this.i + 1, this.i + 258);
    const next = rest[0] ?? '';
    const name = IDENTIFIER.exec(rest) ?? /^\{([A-Za-z_][A-Za-z0-9_]*)\}/.exec(rest);
    if (name) {
      const variable = name[1] ?? name[0];
      if (variable.startsWith(ENV_PREFIX)) this.fail(`$${variable} (write {{ ... }} for a value; pulsebridge names the variables)`);
      if (REFUSED_VARIABLES.has(variable)) this.fail(`$${variable} (it can hold a value or name a shell)`);
      this.copy(1 + name[0].length);
      return 'variable';
    }
    if (next === '{') this.fail('${...} other than ${NAME} (offsets, subscripts, indirection and patterns)');
    if (next === '0') this.fail('$0 (it names the shell)');
    if (/^[?$#!@*1-9-]/.test(next)) {
      this.copy(2);
      return 'variable';
    }
    if (next === '(') {
      if (rest[1] === '(') this.fail('shell arithmetic ($(( )))');
      // Its output could be anything, and bash 5.1 finds its end by scanning, not parsing.
      this.fail('$(...) in a command with values (put it in a script in the app)');
    }
    if (next === '[') this.fail('shell arithmetic ($[ ])');
    // A `$` before a blank, the end of the word or the closing quote is a plain `$`.
    if (next === '' || next === ' ' || next === '\t' || next === '\n' || (inDouble ? next === '"' : METACHAR.test(next))) {
      this.copy(1);
      return 'literal';
    }
    this.fail(`$${next === MARK_OPEN ? '{{…}}' : next} (only $NAME and \${NAME} may follow a $)`);
  }
}

/** A command word's base name without a trailing version: `/usr/bin/python3.11` is `python`. */
function commandBase(name: string): string {
  // perl5.36-x86_64-linux-gnu is perl; ld-linux-x86-64.so.2 is the dynamic loader, which runs any program.
  // ruby.exe is the Ruby buildpack's link to ruby.
  const base = name.slice(name.lastIndexOf('/') + 1).replace(/-(?:x86_64|amd64|i[3-6]86|aarch64|arm\w*|\w+)-linux-gnu\w*$/, '').replace(/\.exe$/i, '');
  if (/^ld(?:-linux[\w-]*)?\.so/.test(base)) return 'ld.so';
  const unversioned = base.replace(/[\d.]+$/, '');
  return unversioned === '' || unversioned.endsWith('.') ? base : unversioned;
}

/** Whether a written-out word names, or is a pattern that could name, a program that runs code. */
function runsCode(word: string): boolean {
  const base = commandBase(word);
  if (RUNS_CODE.has(base)) return true;
  if (!/[*?]/.test(word)) return false;
  const tail = word.slice(word.lastIndexOf('/') + 1);
  const pattern = new RegExp(`^${tail.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return [...RUNS_CODE].some((program) => pattern.test(program) || pattern.test(`${program}3`));
}

/**
 * Replaces the value markers of a rendered command by variable references; `values[i]` is the
 * value of marker i of the render with `nonce`. Equal values share one variable. Markers inside
 * a value (a `capture` that is output again) become the value they stand for. A command with
 * values must follow the grammar described at the top of this file.
 */
export function bindPlaceholders(
  rendered: string,
  values: readonly string[],
  nonce: string,
  limits: { maxValues: number; maxChars: number },
): { command: string; env: Record<string, string> } {
  if (values.length === 0) return { command: rendered, env: {} };
  const tooMuch = (what: string) =>
    new PlaceholderError(`it exceeds the limits for commands (${what}; at most ${limits.maxValues} distinct values of ${limits.maxChars} characters in all)`);
  const resolved: string[] = [];
  const marks = markerPattern(nonce, 'g');
  for (const value of values) {
    // Checked as they grow: captures output again can double a value at each step.
    let length = 0;
    const inner = value.replace(marks, (_, index: string) => {
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
  const command = new CommandParser(rendered, nonce, variable, (index) => resolved[index] ?? '').parse();
  return { command, env };
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
