import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PipelineError } from '../src/errors.js';
import type { Chunk, MatteEngine, StageContext } from '../src/pipeline/types.js';
import { chooseDownsampleRatio, createRvmMatte } from '../src/pipeline/engines/matte-rvm.js';
import { planarToRgba, rgb24ToPlanarFloat, rgb24WithAlphaToRgba } from '../src/pipeline/engines/rvm-tensor.js';
import { clips, decodeRgb, rvmModel, tempDir } from './helpers/media.js';
import { rejection } from './helpers/assert.js';

const W = 256;
const H = 256;
const FRAME = W * H * 3;

function ctxOf(signal: AbortSignal = new AbortController().signal, tmp = '/tmp'): StageContext {
  return { signal, tempDir: tmp, log: () => {} };
}

function chunkOf(pixels: Buffer, index: number, start: number, count: number, w = W, h = H): Chunk {
  return { index, start, count, width: w, height: h, format: 'rgb24', pixels };
}

function alphaStats(c: Chunk): { min: number; max: number; mean: number } {
  let min = 255;
  let max = 0;
  let sum = 0;
  const n = c.count * c.width * c.height;
  for (let i = 3; i < c.pixels.length; i += 4) {
    const a = c.pixels[i];
    if (a < min) min = a;
    if (a > max) max = a;
    sum += a;
  }
  return { min, max, mean: sum / n / 255 };
}


describe('rvm-tensor conversions', () => {
  it('rgb24ToPlanarFloat: packed → NCHW planes, /255, from an offset', () => {
    // two frames of 2x1; convert the second one
    const src = new Uint8Array([9, 9, 9, 9, 9, 9, 0, 51, 255, 102, 153, 204]);
    const out = new Float32Array(6).fill(-1);
    rgb24ToPlanarFloat(src, 6, 2, 1, out);
    expect(Array.from(out)).toEqual([0, 102, 51, 153, 255, 204].map((v) => Math.fround(v / 255)));
    expect(() => rgb24ToPlanarFloat(src, 8, 2, 1, out)).toThrow(RangeError);
    expect(() => rgb24ToPlanarFloat(src, 0, 2, 1, new Float32Array(5))).toThrow(RangeError);
  });

  it('planarToRgba: rounds, clamps, NaN → 0, writes at the offset only', () => {
    // 3 pixels (3x1): R plane, G plane, B plane
    const fgr = new Float32Array([0, 0.5, 1, 0.2, -0.3, 1.7, 0.999, NaN, 0.0019]);
    const pha = new Float32Array([0, 0.501, 1.2]);
    const out = Buffer.alloc(4 + 12, 7);
    planarToRgba(fgr, pha, 3, 1, out, 4);
    expect(Array.from(out.subarray(0, 4))).toEqual([7, 7, 7, 7]);
    expect(Array.from(out.subarray(4))).toEqual([
      0, 51, 255, 0, // 0, 0.2*255=51, 0.999*255=254.7→255, pha 0
      128, 0, 0, 128, // 0.5*255=127.5→128, -0.3→0, NaN→0, 0.501*255=127.76→128
      255, 255, 0, 255, // 1→255, 1.7→255, 0.0019*255=0.48→0, 1.2→255
    ]);
    expect(() => planarToRgba(fgr, pha, 3, 1, out, 5)).toThrow(RangeError);
  });

  it('round trip: rgb24 → planar → rgba gives back the bytes', () => {
    const w = 7;
    const h = 5;
    const src = new Uint8Array(w * h * 3);
    for (let i = 0; i < src.length; i++) src[i] = (i * 37) & 255;
    const planar = new Float32Array(w * h * 3);
    rgb24ToPlanarFloat(src, 0, w, h, planar);
    const out = Buffer.alloc(w * h * 4);
    planarToRgba(planar, new Float32Array(w * h).fill(1), w, h, out, 0);
    for (let p = 0; p < w * h; p++) {
      expect([out[4 * p], out[4 * p + 1], out[4 * p + 2], out[4 * p + 3]]).toEqual([src[3 * p], src[3 * p + 1], src[3 * p + 2], 255]);
    }
  });

  it('rgb24WithAlphaToRgba joins colour and alpha', () => {
    const out = Buffer.alloc(8);
    rgb24WithAlphaToRgba(new Uint8Array([0, 1, 2, 3, 4, 5, 6]), 1, new Uint8Array([9, 200, 100]), 1, 2, out, 0);
    expect(Array.from(out)).toEqual([1, 2, 3, 200, 4, 5, 6, 100]);
  });
});

describe('chooseDownsampleRatio', () => {
  it.each([
    [256, 256, 1],
    [512, 512, 1],
    [512, 288, 1],
    [768, 432, 0.67],
    [540, 960, 0.53],
    [1280, 720, 0.4],
    [720, 1280, 0.4],
    [1920, 1080, 0.27],
    [1080, 1920, 0.27],
    [3840, 2160, 0.13],
    [7680, 4320, 0.07],
  ])('%i x %i → %f', (w, h, r) => {
    expect(chooseDownsampleRatio(w, h)).toBe(r);
    const internalLong = Math.max(w, h) * r;
    expect(internalLong).toBeGreaterThanOrEqual(256);
    expect(internalLong).toBeLessThanOrEqual(Math.max(w, h) <= 512 ? 512 : 540);
  });
  it('refuses a bad size', () => {
    expect(() => chooseDownsampleRatio(0, 0)).toThrow(RangeError);
  });
});

describe('RVM matte engine (onnxruntime-node, CPU)', () => {
  let frames: Buffer; // 5 frames of girl_dancing at 256x256
  let engine: MatteEngine;

  beforeAll(async () => {
    frames = await decodeRgb(clips.girl, W, H, 5);
    expect(frames.length).toBe(5 * FRAME);
    engine = await createRvmMatte({ modelPath: rvmModel, providers: ['cpu'], downsampleRatio: 'auto' });
  }, 30_000);
  afterAll(async () => {
    await engine?.close();
  });

  it('mattes real frames: rgba of the same size, alpha in range, a plausible amount of person', async () => {
    const logs: string[] = [];
    const ctx: StageContext = { ...ctxOf(), log: (m) => logs.push(m) };
    const out = await engine.process(chunkOf(frames.subarray(0, 4 * FRAME), 3, 0, 4), ctx);
    expect(out).toMatchObject({ index: 3, start: 0, count: 4, width: W, height: H, format: 'rgba' });
    expect(out.pixels.length).toBe(4 * W * H * 4);
    const s = alphaStats(out);
    expect(s.min).toBeGreaterThanOrEqual(0);
    expect(s.max).toBeLessThanOrEqual(255);
    expect(s.max).toBeGreaterThan(200); // the dancer is really opaque somewhere
    expect(s.mean).toBeGreaterThan(0.15);
    expect(s.mean).toBeLessThan(0.5);
    // The corners are pink studio wall: background.
    for (const [x, y] of [[2, 2], [W - 3, 2]]) expect(out.pixels[(y * W + x) * 4 + 3]).toBeLessThan(40);
    expect(logs.some((m) => /ms\/frame/.test(m))).toBe(true);
    const info = engine.info();
    // The shared file's states are 16/20/40/64 wide: the engine names it MobileNetV3 itself.
    expect(info.engine).toBe('rvm mobilenetv3 (onnxruntime-node)');
    expect(info.device).toMatch(/^onnxruntime cpu/);
    expect(info.device).toContain('rvm_mobilenetv3_from_tfjs.onnx');
    expect(info.fallbackFrom).toBeUndefined();
  }, 30_000);

  it('a black frame gives an alpha of about 0', async () => {
    const black = Buffer.alloc(2 * FRAME);
    // start 0: a new clip, so the girl's states from the previous test are dropped
    const out = await engine.process(chunkOf(black, 0, 0, 2), ctxOf());
    expect(alphaStats(out).mean).toBeLessThan(0.01);
  }, 30_000);

  it('states carry across chunks: 2 + 3 frames give exactly the bytes of 5 in one piece', async () => {
    const chunked = await createRvmMatte({ modelPath: rvmModel, providers: ['cpu'], downsampleRatio: 0.5 });
    const whole = await createRvmMatte({ modelPath: rvmModel, providers: ['cpu'], downsampleRatio: 0.5 });
    try {
      const a = await chunked.process(chunkOf(frames.subarray(0, 2 * FRAME), 0, 0, 2), ctxOf());
      const b = await chunked.process(chunkOf(frames.subarray(2 * FRAME), 1, 2, 3), ctxOf());
      const one = await whole.process(chunkOf(frames, 0, 0, 5), ctxOf());
      expect(b).toMatchObject({ index: 1, start: 2, count: 3 });
      const joined = Buffer.concat([a.pixels, b.pixels]);
      expect(joined.length).toBe(one.pixels.length);
      expect(joined.equals(one.pixels)).toBe(true);

      // ...and the state really matters: frame 2 matted from a fresh state differs.
      const fresh = await whole.process(chunkOf(frames.subarray(2 * FRAME, 3 * FRAME), 0, 0, 1), ctxOf());
      expect(fresh.pixels.equals(b.pixels.subarray(0, W * H * 4))).toBe(false);
    } finally {
      await chunked.close();
      await whole.close();
    }
  }, 40_000);

  it('a change of frame size resets the states instead of failing', async () => {
    const small = await decodeRgb(clips.girl, 128, 96, 1);
    const out = await engine.process(chunkOf(small, 9, 9, 1, 128, 96), ctxOf());
    expect(out).toMatchObject({ width: 128, height: 96, format: 'rgba', count: 1 });
    expect(out.pixels.length).toBe(128 * 96 * 4);
  }, 30_000);

  it('cancels: an aborted signal, and an abort between frames', async () => {
    const ac = new AbortController();
    ac.abort();
    const e1 = await rejection(engine.process(chunkOf(frames, 0, 0, 5), ctxOf(ac.signal)));
    expect(e1.code).toBe('CANCELLED');

    const ac2 = new AbortController();
    const started = performance.now();
    const p = engine.process(chunkOf(frames, 0, 0, 5), ctxOf(ac2.signal));
    setTimeout(() => ac2.abort(), 5);
    const e2 = await rejection(p);
    expect(e2.code).toBe('CANCELLED');
    expect(performance.now() - started).toBeLessThan(5000);
    // the engine stays usable after a cancel
    const ok = await engine.process(chunkOf(frames.subarray(0, FRAME), 0, 0, 1), ctxOf());
    expect(ok.count).toBe(1);
  }, 30_000);

  it('falls back from cuda to cpu and says so', async () => {
    const logs: string[] = [];
    const e = await createRvmMatte({ modelPath: rvmModel, providers: ['cuda', 'cpu'], downsampleRatio: 'auto', log: (m) => logs.push(m) });
    try {
      const info = e.info();
      expect(info.device).toMatch(/onnxruntime cpu/);
      expect(info.fallbackFrom).toMatch(/^cuda unavailable: \S/);
      expect(info.fallbackFrom!.length).toBeLessThan(400);
      expect(logs.join('\n')).toMatch(/cuda/);
      const out = await e.process(chunkOf(frames.subarray(0, FRAME), 0, 0, 1), ctxOf());
      expect(out.format).toBe('rgba');
    } finally {
      await e.close();
    }
  }, 30_000);

  it('no working provider → TOOL_FAILED naming them; no model → MODEL_MISSING; a broken model → MODEL_MISSING', async () => {
    const e1 = await rejection(createRvmMatte({ modelPath: rvmModel, providers: ['cuda'], downsampleRatio: 'auto' }));
    expect(e1.code).toBe('TOOL_FAILED');
    expect(e1.message).toMatch(/cuda unavailable/);

    const e2 = await rejection(createRvmMatte({ modelPath: '/nonexistent/rvm.onnx', providers: ['cpu'], downsampleRatio: 'auto' }));
    expect(e2.code).toBe('MODEL_MISSING');
    expect(e2.message).toContain('/nonexistent/rvm.onnx');

    const t = tempDir();
    try {
      const broken = path.join(t.dir, 'rvm.onnx');
      writeFileSync(broken, 'this is not a model');
      const e3 = await rejection(createRvmMatte({ modelPath: broken, providers: ['cpu'], downsampleRatio: 'auto' }));
      expect(e3.code).toBe('MODEL_MISSING');
      // a real ONNX model that is not RVM (the DeepLab segmenter next to it)
      const deeplab = path.join(path.dirname(rvmModel), 'deeplabv3_mnv2_pascal_257.onnx');
      const e4 = await rejection(createRvmMatte({ modelPath: deeplab, providers: ['cpu'], downsampleRatio: 'auto' }));
      expect(e4.code).toBe('MODEL_MISSING');
      expect(e4.message).toMatch(/not an RVM model/);
      // a valid file copied under another name still loads (the name is only reported)
      const copy = path.join(t.dir, 'renamed.onnx');
      copyFileSync(rvmModel, copy);
      const ok = await createRvmMatte({ modelPath: copy, providers: ['cpu'], downsampleRatio: 'auto' });
      expect(ok.info().device).toContain('renamed.onnx');
      await ok.close();
    } finally {
      t.remove();
    }
  }, 30_000);

  it('refuses rgba input and use after close', async () => {
    const e = await createRvmMatte({ modelPath: rvmModel, providers: ['cpu'], downsampleRatio: 1 });
    const bad: Chunk = { ...chunkOf(Buffer.alloc(W * H * 4), 0, 0, 1), format: 'rgba' };
    expect((await rejection(e.process(bad, ctxOf()))).code).toBe('TOOL_FAILED');
    await e.close();
    await e.close(); // idempotent
    expect((await rejection(e.process(chunkOf(frames.subarray(0, FRAME), 0, 0, 1), ctxOf()))).code).toBe('TOOL_FAILED');
  }, 30_000);
});
