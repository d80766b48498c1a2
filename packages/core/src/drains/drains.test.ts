import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../../../test/support/random.js';
import { parseLogplexBody } from './logplex.js';
import { isRouterCode, isRuntimeCode } from './signals.js';
import { countDrainBody } from './count-body.js';
import { bucketField } from './windows.js';

const FIXTURES = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../../test/fixtures/heroku/log-drains');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name));
/** A frame as Logplex counts it: the message's byte length, a space, the message. */
const frame = (message: string) => `${Buffer.byteLength(message)} ${message}`;
const line = (app: string, proc: string, message: string) => `<158>1 2026-12-06T10:00:00+00:00 host ${app} ${proc} - ${message}`;

describe('parseLogplexBody', () => {
  it("reads Heroku's published example bodies, whose counts include the newline or do not match at all", () => {
    const dev = parseLogplexBody(fixture('dev-center-https-drain.txt'));
    expect(dev.frames.map((f) => [f.appName, f.procId, f.message])).toEqual([
      ['app', 'web.3', 'State changed from starting to up'],
      ['app', 'web.3', 'Starting process with command `bundle exec rackup config.ru -p 24405`'],
    ]);
    // The router example's count (277) is short of its text (296 bytes): the frame ends at the end of the body.
    const router = parseLogplexBody(fixture('router-h12.txt'));
    expect(router).toMatchObject({ skipped: 0, dropped: 0 });
    expect(router.frames).toHaveLength(1);
    expect(router.frames[0]).toMatchObject({ priority: 158, timestamp: '2012-10-11T03:47:20+00:00', hostname: 'host', appName: 'heroku', procId: 'router', msgId: '-' });
    expect(router.frames[0]!.message).toMatch(/^at=error code=H12 desc="Request timeout" .* protocol=http$/);
  });

  const good = [line('heroku', 'router', 'at=info status=200'), line('app', 'web.1', 'héllo ✓'), line('heroku', 'web.2', 'Error R14 (Memory quota exceeded)')];
  it.each<[string, string, { messages: string[]; skipped?: number }]>([
    ['exact counts, no newlines', good.map(frame).join(''), { messages: ['at=info status=200', 'héllo ✓', 'Error R14 (Memory quota exceeded)'] }],
    ['counts that include a trailing newline', good.map((m) => frame(`${m}\n`)).join(''), { messages: ['at=info status=200', 'héllo ✓', 'Error R14 (Memory quota exceeded)'] }],
    ['a count too long (the next frame starts sooner)', `999 ${good[0]}${good.slice(1).map(frame).join('')}`, { messages: ['at=info status=200', 'héllo ✓', 'Error R14 (Memory quota exceeded)'] }],
    ['a count too short', `5 ${good[0]}\n${frame(good[1]!)}`, { messages: ['at=info status=200', 'héllo ✓'] }],
    ['a count past the end of the body', `9999999 ${good[0]}`, { messages: ['at=info status=200'] }],
    ['a count of zero', `0 ${good[0]}`, { messages: ['at=info status=200'] }],
    ['garbage before and between frames', `garbage\n${frame(good[0]!)}\n\n--\n${frame(good[1]!)}`, { messages: ['at=info status=200', 'héllo ✓'], skipped: 2 }],
    ['a frame that is not syslog', `${frame('not a syslog line')}${frame(good[1]!)}`, { messages: ['héllo ✓'], skipped: 1 }],
    ['an empty body', '', { messages: [] }],
    ['only digits', '12345678901234567890', { messages: [], skipped: 1 }],
  ])('%s', (_name, body, expected) => {
    const parsed = parseLogplexBody(Buffer.from(body, 'utf8'));
    expect(parsed.frames.map((f) => f.message)).toEqual(expected.messages);
    expect(parsed.skipped).toBe(expected.skipped ?? 0);
  });

  it('never reads past the body and bounds its work, whatever the counts say', () => {
    const many = Array.from({ length: 50 }, () => frame(good[0]!)).join('');
    expect(parseLogplexBody(many, { maxFrames: 10 })).toMatchObject({ dropped: 40 });
    expect(parseLogplexBody(many, { maxFrames: 10 }).frames).toHaveLength(10);
    // A megabyte of lying counts and headers with nothing behind them is read once, quickly.
    const hostile = Buffer.from('9999 <1>1 '.repeat(100_000));
    const started = process.hrtime.bigint();
    const parsed = parseLogplexBody(hostile);
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2_000);
    expect(parsed.frames.length + parsed.skipped + parsed.dropped).toBeLessThanOrEqual(100_000);
  });

  // Bodies that once took the parser from seconds to minutes (work that grew with the square of
  // the body): each must be read in one pass. The bound is a hundred times what they take.
  const MiB = 1024 * 1024;
  const until = (unit: string, size: number, tail = '') => unit.repeat(Math.floor((size - tail.length) / unit.length)) + tail;
  it.each<[string, string]>([
    ['counts that land inside a long run of carriage returns', until('200000 <1>1 ', MiB / 2) + '\r'.repeat(MiB / 2 - 1) + 'x'],
    ['counts past a run of carriage returns that ends the body', until('400000 <1>1 ', MiB - 700_000) + '\r'.repeat(700_000) + 'x'],
    ['a megabyte of digits', '7'.repeat(MiB)],
    ['a megabyte of tiny frames', until('1 <1>1 x', MiB)],
    ['a megabyte of header starts', until(' <', MiB)],
    ['a megabyte of frames without a line end', until(`${Buffer.byteLength(line('heroku', 'router', 'at=info status=200'))} ${line('heroku', 'router', 'at=info status=200')}`, MiB)],
  ])('reads %s in one pass, parsing or counting', (_name, body) => {
    for (const read of [(bytes: Buffer) => parseLogplexBody(bytes), (bytes: Buffer) => countDrainBody(bytes)]) {
      const started = process.hrtime.bigint();
      const parsed = read(Buffer.from(body, 'latin1'));
      expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2_000);
      expect(('frames' in parsed ? parsed.frames.length : parsed.lines) + parsed.skipped).toBeLessThanOrEqual(10_000);
    }
  });
});

describe('parseLogplexBody on mutated bodies', () => {
  it('never throws, reads only what is there, and finds every frame a mutation left intact', () => {
    const random = seededRandom(20261206);
    const messages = Array.from({ length: 12 }, (_, i) => line(i % 2 ? 'heroku' : 'app', i % 3 ? 'router' : `web.${i}`, `at=info status=${200 + i} n=${i}`));
    const pieces = ['\n', ' ', '0', '9', '<', '>', '1 ', '\u00ff', 'é', '99999 ', '<1>1 ', ''];
    for (let round = 0; round < 2_000; round += 1) {
      let body = messages.map((m) => (random(3) === 0 ? `${m.length + random(5)} ${m}` : frame(m))).join(random(2) ? '\n' : '');
      for (let n = random(4); n > 0; n -= 1) {
        const at = random(body.length + 1);
        body = body.slice(0, at) + pieces[random(pieces.length)]! + body.slice(at + random(3));
      }
      const parsed = parseLogplexBody(Buffer.from(body, 'utf8'));
      for (const f of parsed.frames) expect(body).toContain(f.message);
      expect(parsed.frames.length).toBeLessThanOrEqual(messages.length + 4);
    }
  });
});

describe('countDrainBody', () => {
  /**
   * The plain reading the ingress' counting must agree with: parse every frame, then read each
   * platform line on its own (the router's fields, `Error Rxx (`, a crash) and count its signals.
   */
  const processTypeOf = (dyno: string) => /^(.+)\.\d+$/.exec(dyno)?.[1] ?? dyno;
  /** The router's fields, as written: `code=` opens an error line; the last ` status=`, and the last ` dyno=` before it, are the real ones. */
  const routerFields = (message: string) => {
    const value = (from: number) => /^[^ ]*/.exec(message.slice(from))![0];
    const statusAt = message.lastIndexOf(' status=');
    const status = statusAt === -1 ? '' : value(statusAt + 8);
    const dynoAt = statusAt === -1 ? message.lastIndexOf(' dyno=') : message.lastIndexOf(' dyno=', statusAt);
    return {
      code: message.startsWith('at=error code=') ? value(14) : null,
      dyno: dynoAt === -1 ? '' : value(dynoAt + 6),
      status: /^[1-5]\d\d$/.test(status) ? Number(status) : null,
    };
  };
  const slow = (body: Buffer) => {
    const parsed = parseLogplexBody(body);
    const fields = new Map<string, number>();
    let alarming = false;
    const add = (processType: string, signal: string, error: boolean) => {
      const field = bucketField(processType, signal);
      fields.set(field, (fields.get(field) ?? 0) + 1);
      alarming ||= error;
    };
    for (const frame of parsed.frames) {
      if (frame.appName !== 'heroku') continue;
      if (frame.procId === 'router') {
        const router = routerFields(frame.message);
        const processType = router.dyno ? processTypeOf(router.dyno) : 'web';
        if (router.status !== null) add(processType, 'req', false);
        if (router.status !== null && router.status >= 500) add(processType, '5xx', true);
        if (router.code !== null && isRouterCode(router.code)) add(processType, router.code, true);
        continue;
      }
      const error = /^Error (R\d\d) \(/.exec(frame.message);
      if (error && isRuntimeCode(error[1]!)) add(processTypeOf(frame.procId), error[1]!, true);
      else if (/^State changed from \w{1,32} to crashed\b/.test(frame.message)) add(processTypeOf(frame.procId), 'crashed', true);
    }
    return { lines: parsed.frames.length, skipped: parsed.skipped, dropped: parsed.dropped, fields, alarming };
  };
  it('counts what parsing and reading every frame counts, on real and mutated bodies', () => {
    const random = seededRandom(7);
    const lines = [
      line('heroku', 'router', 'at=info method=GET path="/" dyno=web.1 connect=1ms service=2ms status=200 bytes=1'),
      line('heroku', 'router', 'at=error code=H12 desc="Request timeout" method=GET path="/x status=200" dyno=web.2 connect=0ms service=30000ms status=503 bytes=0'),
      line('heroku', 'router', 'at=error code=H10 desc="App crashed" method=GET path="/" dyno= connect= service= status=503 bytes='),
      line('heroku', 'router', 'at=error code=H27 desc="Client Request Interrupted" dyno=api.1 status=499'),
      line('heroku', 'worker.3', 'Error R14 (Memory quota exceeded)'),
      line('heroku', 'web.1', 'Error R15 (Memory quota vastly exceeded)'),
      line('heroku', 'web.1', 'Error R1 (nope)'),
      line('heroku', 'web.2', 'State changed from up to crashed'),
      line('heroku', 'web.2', 'State changed from starting to crashed'),
      line('heroku', 'web.2', 'State changed from starting to up'),
      line('app', 'web.1', 'Error R14 (Memory quota exceeded) printed by the app'),
      line('heroku', 'scheduler.1234', 'Process exited with status 137'),
      line('heroku', 'router', 'at=info dyno=<!here>.1 status=502'),
    ];
    for (const fixtureName of ['dev-center-https-drain.txt', 'router-h12.txt']) expect(countDrainBody(fixture(fixtureName))).toEqual(slow(fixture(fixtureName)));
    const pieces = ['\n', ' ', '0', '9', '<', '>', '1 ', '\u00ff', 'é', '99999 ', '<1>1 ', '', 'Error R', 'status=5', 'e', ' dyno=', ' status=', '.', '\r', '\t'];
    for (let round = 0; round < 6_000; round += 1) {
      let text = Array.from({ length: 1 + random(12) }, () => lines[random(lines.length)]!).map((m) => (random(4) === 0 ? `${m.length + random(5)} ${m}` : frame(m))).join(random(2) ? '\n' : '');
      for (let n = random(4); n > 0; n -= 1) {
        const at = random(text.length + 1);
        text = text.slice(0, at) + pieces[random(pieces.length)]! + text.slice(at + random(3));
      }
      const body = Buffer.from(text, 'utf8');
      const fast = countDrainBody(body);
      const expected = slow(body);
      expect({ fields: fast.fields, alarming: fast.alarming, dropped: fast.dropped }, text).toEqual({ fields: expected.fields, alarming: expected.alarming, dropped: expected.dropped });
      expect(fast.lines + fast.skipped, text).toBe(expected.lines + expected.skipped);
    }
  });
});

describe('what countDrainBody counts of one line', () => {
  const count = (message: string, app = 'heroku', proc = 'router') => Object.fromEntries(countDrainBody(Buffer.from(frame(line(app, proc, message)))).fields);
  it.each<[string, Record<string, number>, Record<string, number>]>([
    ['the router example: an H12 and its 503', Object.fromEntries(countDrainBody(fixture('router-h12.txt')).fields), { 'web req': 1, 'web 5xx': 1, 'web H12': 1 }],
    ['a request answered 200', count('at=info method=GET path="/" dyno=web.2 connect=1ms service=23ms status=200 bytes=10'), { 'web req': 1 }],
    ['a 5xx from the app itself', count('at=info method=GET path="/" dyno=web.2 status=500 bytes=10'), { 'web req': 1, 'web 5xx': 1 }],
    ['H10 with an empty dyno', count('at=error code=H10 desc="App crashed" method=GET path="/" dyno= connect= service= status=503 bytes='), { 'web req': 1, 'web 5xx': 1, 'web H10': 1 }],
    ['a path that holds the words status= and dyno=', count('at=info method=GET path="/x status=500 dyno=evil.1" dyno=api.3 status=200 bytes=1'), { 'api req': 1 }],
    ['an unknown router code', count('at=error code=H42 desc="?" status=503'), { 'web req': 1, 'web 5xx': 1 }],
    ['R14 on a worker', count('Error R14 (Memory quota exceeded)', 'heroku', 'worker.1'), { 'worker R14': 1 }],
    ['R15 on a web dyno', count('Error R15 (Memory quota vastly exceeded)', 'heroku', 'web.3'), { 'web R15': 1 }],
    ['a crash', count('State changed from up to crashed', 'heroku', 'web.1'), { 'web crashed': 1 }],
    ['a crash while booting', count('State changed from starting to crashed', 'heroku', 'web.1'), { 'web crashed': 1 }],
    ['a start', count('State changed from starting to up', 'heroku', 'web.1'), {}],
    ['a state word longer than any the runtime writes', count(`State changed from ${'a'.repeat(40)} to crashed`, 'heroku', 'web.1'), {}],
    ['a crash word that goes on', count(`State changed from ${'a'.repeat(32)} to crashedX`, 'heroku', 'web.1'), {}],
    ["the app's own line that looks like an error", count('Error R14 (Memory quota exceeded)', 'app', 'web.1'), {}],
    ['a router line an app prints', count('at=error code=H12 status=503', 'app', 'router'), {}],
    ['a metrics line', count('source=web.1 sample#memory_total=21.00MB', 'heroku', 'web.1'), {}],
    ['a process type no Heroku app could have', count('at=info dyno=<!here>.1 status=502'), { 'other req': 1, 'other 5xx': 1 }],
  ])('%s', (_name, counted, expected) => {
    expect(counted).toEqual(expected);
  });

  it('names process types', () => {
    const types = ['web.1', 'run.1234', 'worker', 'scheduler.12', 'release.9999999', 'web.'].map((dyno) => Object.keys(count('Error R14 (Memory quota exceeded)', 'heroku', dyno)));
    expect(types).toEqual([['web R14'], ['run R14'], ['worker R14'], ['scheduler R14'], ['release R14'], ['other R14']]);
  });
});
