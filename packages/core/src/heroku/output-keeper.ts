/** Bytes kept from the start of a run's output (how it began: the command's first lines). */
export const OUTPUT_HEAD_BYTES = 64 * 1024;
/** Bytes kept from the end of a run's output (where errors and the exit status are). */
export const OUTPUT_TAIL_BYTES = 192 * 1024;

/** What a keeper holds: its text, and how many bytes of the output are not in it. */
export interface KeptOutput {
  text: string;
  /** Bytes of the output left out of `text` (0 when it is all there). */
  droppedBytes: number;
}

/** Length of an incomplete UTF-8 sequence at the end of `bytes` (0 when it ends on a boundary). */
function incompleteTail(bytes: Buffer): number {
  // A sequence is at most 4 bytes: look back over at most 3 continuation bytes for its lead.
  for (let back = 1; back <= Math.min(4, bytes.length); back += 1) {
    const byte = bytes[bytes.length - back] as number;
    if ((byte & 0xc0) === 0x80) continue;
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? back : 0;
  }
  return 0;
}

/** Continuation bytes at the start of `bytes`: the rest of a character whose start was dropped (at most 3). */
function orphanedHead(bytes: Buffer): number {
  let count = 0;
  while (count < 3 && count < bytes.length && ((bytes[count] as number) & 0xc0) === 0x80) count += 1;
  return count;
}

/**
 * Keeps a bounded head and tail of a byte stream while it streams: the first `headBytes`
 * and the last `tailBytes` (a ring buffer), counting what falls between. Memory is the two
 * buffers whatever the stream's length, so a command printing gigabytes costs the worker no
 * more than one printing a page. Text is cut on UTF-8 character boundaries.
 */
export class OutputKeeper {
  private readonly head: Buffer;
  private headLength = 0;
  private readonly tail: Buffer;
  /** Where the next tail byte goes; the tail is `tail[tailStart..]` then `tail[..tailStart]` once full. */
  private tailStart = 0;
  private tailLength = 0;
  private total = 0;

  constructor(
    readonly headBytes = OUTPUT_HEAD_BYTES,
    readonly tailBytes = OUTPUT_TAIL_BYTES,
  ) {
    this.head = Buffer.alloc(headBytes);
    this.tail = Buffer.alloc(tailBytes);
  }

  /** Bytes seen so far. */
  get totalBytes(): number {
    return this.total;
  }

  /** Bytes held (head and tail), never more than `headBytes + tailBytes`. */
  get retainedBytes(): number {
    return this.headLength + this.tailLength;
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    let rest = chunk;
    if (this.headLength < this.headBytes) {
      const taken = rest.copy(this.head, this.headLength, 0, Math.min(rest.length, this.headBytes - this.headLength));
      this.headLength += taken;
      rest = rest.subarray(taken);
    }
    if (rest.length === 0 || this.tailBytes === 0) return;
    if (rest.length >= this.tailBytes) {
      rest.copy(this.tail, 0, rest.length - this.tailBytes);
      this.tailStart = 0;
      this.tailLength = this.tailBytes;
      return;
    }
    const first = rest.copy(this.tail, this.tailStart, 0, Math.min(rest.length, this.tailBytes - this.tailStart));
    if (first < rest.length) rest.copy(this.tail, 0, first);
    this.tailStart = (this.tailStart + rest.length) % this.tailBytes;
    this.tailLength = Math.min(this.tailBytes, this.tailLength + rest.length);
  }

  /** The bytes seen but not held. */
  get droppedBytes(): number {
    return this.total - this.retainedBytes;
  }

  /**
   * The output as text: all of it when nothing was dropped, otherwise the head, a line saying
   * how many bytes were dropped there, and the tail. A character cut by the gap is dropped
   * whole (and counted).
   */
  kept(): KeptOutput {
    const tail = this.tailLength < this.tailBytes ? this.tail.subarray(0, this.tailLength) : Buffer.concat([this.tail.subarray(this.tailStart), this.tail.subarray(0, this.tailStart)]);
    if (this.droppedBytes === 0) {
      return { text: Buffer.concat([this.head.subarray(0, this.headLength), tail]).toString('utf8'), droppedBytes: 0 };
    }
    const head = this.head.subarray(0, this.headLength);
    const headCut = incompleteTail(head);
    const tailCut = orphanedHead(tail);
    const droppedBytes = this.droppedBytes + headCut + tailCut;
    const keptHead = head.subarray(0, head.length - headCut).toString('utf8');
    const keptTail = tail.subarray(tailCut).toString('utf8');
    const lead = keptHead === '' || keptHead.endsWith('\n') ? '' : '\n';
    const notice = `[pulsebridge: ${droppedBytes.toLocaleString('en-US')} bytes of output dropped here; the first ${formatSize(this.headBytes)} and the last ${formatSize(this.tailBytes)} are kept]\n`;
    return { text: `${keptHead}${lead}${notice}${keptTail}`, droppedBytes };
  }
}

function formatSize(bytes: number): string {
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;
}
