import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Channel } from '../src/pipeline/channel.js';
import { readFrameChunks } from '../src/pipeline/frames.js';

describe('Channel', () => {
  it('delivers items in order and ends when closed', async () => {
    const ch = new Channel<number>(2);
    const producer = (async () => {
      for (let i = 0; i < 5; i++) await ch.push(i);
      ch.close();
    })();
    const got: number[] = [];
    for await (const x of ch) got.push(x);
    await producer;
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });

  it('holds a fast producer back to its capacity (back-pressure)', async () => {
    const ch = new Channel<number>(2);
    let pushed = 0;
    void (async () => {
      for (let i = 0; i < 10; i++) {
        await ch.push(i);
        pushed++;
      }
    })();
    await new Promise((r) => setTimeout(r, 20));
    expect(pushed).toBe(2);
    const it = ch[Symbol.asyncIterator]();
    await it.next();
    await new Promise((r) => setTimeout(r, 20));
    expect(pushed).toBe(3);
  });

  it('fails both sides when failed', async () => {
    const ch = new Channel<number>(1);
    await ch.push(1);
    const blocked = ch.push(2);
    ch.fail(new Error('boom'));
    await expect(blocked).rejects.toThrow('boom');
    await expect((async () => { for await (const _ of ch) void _; })()).rejects.toThrow('boom');
  });
});

describe('readFrameChunks', () => {
  it('reassembles frames split across arbitrary pipe reads', async () => {
    const s = new PassThrough();
    const frames = Buffer.from(Array.from({ length: 7 * 6 }, (_, i) => i));
    // 7 frames of 6 bytes, written in odd slices
    void (async () => {
      for (let i = 0; i < frames.length; i += 5) s.write(frames.subarray(i, i + 5));
      s.end();
    })();
    const chunks = [];
    for await (const c of readFrameChunks(s, 6, 3)) chunks.push(c);
    expect(chunks.map((c) => c.count)).toEqual([3, 3, 1]);
    expect(Buffer.concat(chunks.map((c) => c.pixels))).toEqual(frames);
  });

  it('refuses a stream that stops inside a frame', async () => {
    const s = new PassThrough();
    s.end(Buffer.alloc(10));
    await expect((async () => { for await (const _ of readFrameChunks(s, 6, 3)) void _; })()).rejects.toThrow(/inside a frame/);
  });
});
