import { describe, expect, it } from 'vitest';
import { sameOriginPath } from './same-origin-path.js';

const PUBLIC_URL = 'https://pulse.example.com';

describe('sameOriginPath', () => {
  it.each([
    ['/incidents', '/incidents'],
    ['/incidents/1?status=triggered#runs', '/incidents/1?status=triggered#runs'],
    ['https://pulse.example.com/events?x=1', '/events?x=1'],
    ['incidents', '/incidents'],
    ['/%5Cevil.example', '/%5Cevil.example'],
    ['/a/../services', '/services'],
    // Scheme-relative to an https page: the browser reads it as a path too.
    ['https:evil.example', '/evil.example'],
  ])('keeps the same-origin location %j as %j', (location, path) => {
    expect(sameOriginPath(location, PUBLIC_URL)).toBe(path);
  });

  it.each([
    '/\\evil.example',
    '/\\evil.example/x',
    '\\\\evil.example',
    '//evil.example',
    '///evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    '\t//evil.example',
    ' //evil.example',
    '/.//evil.example',
    '/x/..//evil.example',
    'https://pulse.example.com//evil.example',
    'https://evil.example',
    'https://evil.example/incidents',
    'http://pulse.example.com/incidents',
    'https://pulse.example.com:8443/',
    'https://pulse.example.com.evil.example/',
    'http:evil.example',
    'javascript:alert(1)',
    'JaVaScRiPt:alert(1)',
    'java\tscript:alert(1)',
    'data:text/html,<script>alert(1)</script>',
    'mailto:a@evil.example',
    'http://[::1',
    '',
  ])('refuses %j', (location) => {
    expect(sameOriginPath(location, PUBLIC_URL)).toBeUndefined();
  });

  it('whatever it returns stays on the public origin when a browser resolves it', () => {
    const hostile = ['/\\evil.example', '/%5Cevil.example', '/%2F/evil.example', '/%09/evil.example', '/..\\evil.example', '/\\/evil.example', '/ /evil.example'];
    for (const location of hostile) {
      const path = sameOriginPath(location, PUBLIC_URL);
      if (path !== undefined) expect(new URL(path, 'https://other-host.example').host, location).toBe('other-host.example');
    }
  });

  it('refuses what is not a string', () => {
    expect(sameOriginPath(undefined, PUBLIC_URL)).toBeUndefined();
    expect(sameOriginPath(['/incidents'], PUBLIC_URL)).toBeUndefined();
  });
});
