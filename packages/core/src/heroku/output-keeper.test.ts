import { describe, expect, it } from 'vitest';
import { OUTPUT_HEAD_BYTES, OUTPUT_TAIL_BYTES, OutputKeeper } from './output-keeper.js';

const NOTICE = /\[pulsebridge: ([\d,]+) bytes of output dropped here; the first (.+?) and the last (.+?) are kept\]\n/;
const droppedIn = (text: string) => Number(NOTICE.exec(text)?.[1]?.replace(/,/g, ''));

describe('OutputKeeper', () => {
  it('keeps short output whole, however it is chunked', () => {
    const keeper = new OutputKeeper(8, 8);
    for (const chunk of ['hel', 'lo ', 'wor', 'ld', '!']) keeper.push(Buffer.from(chunk));
    expect(keeper.kept()).toEqual({ text: 'hello world!', droppedBytes: 0 });
    expect(keeper.totalBytes).toBe(12);
    const exact = new OutputKeeper(4, 4);
    exact.push(Buffer.from('abcdefgh'));
    expect(exact.kept()).toEqual({ text: 'abcdefgh', droppedBytes: 0 });
  });

  it('keeps the head and the tail, and says how many bytes it dropped between them', () => {
    const keeper = new OutputKeeper(6, 10);
    keeper.push(Buffer.from('first\nmiddle bytes that go'));
    keeper.push(Buffer.from(' away\nthe end\n'));
    const { text, droppedBytes } = keeper.kept();
    expect(droppedBytes).toBe(40 - 16);
    expect(text).toBe('first\n[pulsebridge: 24 bytes of output dropped here; the first 6 bytes and the last 10 bytes are kept]\ny\nthe end\n');
  });

  it('feeding 40 MB in chunks of every size retains at most head + tail, and the tail is the real end', () => {
    const keeper = new OutputKeeper();
    const sizes = [1, 7, 100, 4_096, 16_384, 65_537, 300_000];
    let fed = 0;
    let line = 0;
    let last = '';
    for (let i = 0; fed < 40 * 1024 * 1024; i += 1) {
      const size = sizes[i % sizes.length] as number;
      let chunk = '';
      while (chunk.length < size) chunk += `line ${(line += 1)}\n`;
      last = (last + chunk).slice(-OUTPUT_TAIL_BYTES);
      keeper.push(Buffer.from(chunk));
      fed += chunk.length;
      expect(keeper.retainedBytes).toBeLessThanOrEqual(OUTPUT_HEAD_BYTES + OUTPUT_TAIL_BYTES);
    }
    const { text, droppedBytes } = keeper.kept();
    expect(keeper.totalBytes).toBe(fed);
    expect(droppedBytes).toBe(fed - OUTPUT_HEAD_BYTES - OUTPUT_TAIL_BYTES);
    expect(droppedIn(text)).toBe(droppedBytes);
    expect(text.startsWith('line 1\nline 2\n')).toBe(true);
    expect(text.endsWith(last)).toBe(true);
    expect(NOTICE.exec(text)?.slice(2)).toEqual(['64 KiB', '192 KiB']);
    expect(Buffer.byteLength(text)).toBeLessThan(OUTPUT_HEAD_BYTES + OUTPUT_TAIL_BYTES + 200);
  });

  it('cuts on UTF-8 character boundaries, counting a character cut by the gap as dropped', () => {
    // "é" is 2 bytes, "€" 3, "😀" 4: the head ends and the tail starts inside a character.
    for (const char of ['é', '€', '😀']) {
      for (let head = 1; head <= 6; head += 1) {
        for (let tail = 1; tail <= 6; tail += 1) {
          const bytes = Buffer.from(char.repeat(20));
          const keeper = new OutputKeeper(head, tail);
          // Byte by byte: a character never arrives whole.
          for (const byte of bytes) keeper.push(Buffer.from([byte]));
          const { text, droppedBytes } = keeper.kept();
          expect(text).not.toContain('\uFFFD');
          const [kept0, kept1] = text.split(NOTICE.exec(text)![0]) as [string, string];
          expect(kept0.replace(/\n$/, '')).toBe(char.repeat(Math.floor(head / Buffer.byteLength(char))));
          expect(kept1).toBe(char.repeat(Math.floor(tail / Buffer.byteLength(char))));
          expect(droppedBytes).toBe(bytes.length - Buffer.byteLength(kept0.replace(/\n$/, '')) - Buffer.byteLength(kept1));
          expect(droppedIn(text)).toBe(droppedBytes);
        }
      }
    }
  });

  it('a chunk larger than the tail replaces it wholly', () => {
    const keeper = new OutputKeeper(2, 4);
    keeper.push(Buffer.from('ab'));
    keeper.push(Buffer.from('xyz'));
    keeper.push(Buffer.from('0123456789'));
    expect(keeper.kept().text).toBe('ab\n[pulsebridge: 9 bytes of output dropped here; the first 2 bytes and the last 4 bytes are kept]\n6789');
  });
});
