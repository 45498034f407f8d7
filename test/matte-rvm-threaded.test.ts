import { describe, expect, it } from 'vitest';
import { createRvmMatte, type RvmMatteOptions } from '../src/pipeline/engines/matte-rvm.js';
import { createRvmMatteThreaded } from '../src/pipeline/engines/ort/matte-rvm-threaded.js';
import type { Chunk, StageContext } from '../src/pipeline/types.js';
import { clips, decodeRgb, rvmModel } from './helpers/media.js';
import { rejection } from './helpers/assert.js';

const W = 256;
const H = 256;
const ctx = (signal = new AbortController().signal): StageContext => ({ signal, tempDir: '/tmp', log: () => {} });
const chunkOf = (pixels: Buffer, index: number, start: number, count: number): Chunk => ({ index, start, count, width: W, height: H, format: 'rgb24', pixels });
const opts: RvmMatteOptions = { modelPath: rvmModel, providers: ['cpu'], downsampleRatio: 0.5 };

describe('RVM in a worker thread', () => {
  it('gives the in-process engine’s exact output, chunk after chunk, while the main thread stays free', async () => {
    const frames = await decodeRgb(clips.girl, W, H, 4);
    const half = frames.length / 2;
    const direct = await createRvmMatte(opts);
    const threaded = await createRvmMatteThreaded(opts);
    try {
      const expected = [await direct.process(chunkOf(frames.subarray(0, half), 0, 0, 2), ctx()), await direct.process(chunkOf(frames.subarray(half), 1, 2, 2), ctx())];
      let ticks = 0;
      const timer = setInterval(() => ticks++, 5);
      const got = [await threaded.process(chunkOf(frames.subarray(0, half), 0, 0, 2), ctx()), await threaded.process(chunkOf(frames.subarray(half), 1, 2, 2), ctx())];
      clearInterval(timer);
      for (let i = 0; i < 2; i++) {
        expect(got[i]).toMatchObject({ index: i, count: 2, width: W, height: H, format: 'rgba' });
        expect(got[i].pixels.equals(expected[i].pixels)).toBe(true);
      }
      // Timers kept firing while four frames were matted: the event loop was not blocked.
      expect(ticks).toBeGreaterThan(4);
      expect(threaded.info().device).toMatch(/onnxruntime cpu/);
    } finally {
      await direct.close();
      await threaded.close();
    }
  });

  it('reports a missing model with the same error as in-process', async () => {
    const err = await rejection(createRvmMatteThreaded({ ...opts, modelPath: '/nope/rvm.onnx' }));
    expect(err.code).toBe('MODEL_MISSING');
  });

  it('cancel rejects at once and ends the worker', async () => {
    const frames = await decodeRgb(clips.girl, W, H, 4);
    const engine = await createRvmMatteThreaded({ ...opts, downsampleRatio: 1 });
    const ac = new AbortController();
    const running = engine.process(chunkOf(frames, 0, 0, 4), ctx(ac.signal));
    setTimeout(() => ac.abort(), 50);
    const t = performance.now();
    const err = await rejection(running);
    expect(err.code).toBe('CANCELLED');
    expect(performance.now() - t).toBeLessThan(1000);
    expect((await rejection(engine.process(chunkOf(frames, 1, 4, 4), ctx()))).code).toBe('CANCELLED');
    await engine.close();
  });
});
