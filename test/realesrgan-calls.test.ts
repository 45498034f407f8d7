/**
 * The binary engine in calls of many frames: the pure planning (start-up estimate, frames per call,
 * temp cap, tail folding) and the real realesrgan-ncnn-vulkan on Mesa's CPU driver, fed chunk by
 * chunk through runInCalls as the pipeline does.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { estimateStartup, framesForShare, maxFramesForTemp, parseDoneLine, planCallFrames } from '../src/pipeline/engines/realesrgan-calls.js';
import { runInCalls } from '../src/pipeline/engines/run-in-calls.js';
import { createRealesrganUpscale, realesrganArgs } from '../src/pipeline/engines/upscale-realesrgan.js';
import { findRealesrgan } from '../src/machine/tools.js';
import type { Chunk, StageContext } from '../src/pipeline/types.js';
import { testConfig } from './helpers/fixtures.js';
import { clips, decodeRgb, tempDir } from './helpers/media.js';

describe('planning calls (pure)', () => {
  it('estimates start-up and per-frame time from the "done" lines', () => {
    // start-up 2 s, 1 s per frame: frames finish at 3, 4, 5, 6 s (in any order with 2 save threads)
    expect(estimateStartup({ doneS: [3, 5, 4, 6] })).toEqual({ startupS: 2, perFrameS: 1 });
    expect(estimateStartup({ doneS: [3] })).toBeNull();
    expect(estimateStartup({ doneS: [] })).toBeNull();
    // load changing mid-call can make the spacing say "no start-up": the first progress line is a floor
    expect(estimateStartup({ doneS: [1, 10, 19], firstProgressS: 0.6 })).toEqual({ startupS: 0.6, perFrameS: 9 });
    expect(estimateStartup({ doneS: [3], firstProgressS: 0.5 })).toEqual({ startupS: 0.5, perFrameS: 2.5 });
  });

  it('chooses frames so that the start-up is at most the share of a call', () => {
    const e = { startupS: 2, perFrameS: 0.03 };
    const n = framesForShare(e, 0.1, 1, 10_000);
    expect(e.startupS / (e.startupS + n * e.perFrameS)).toBeLessThanOrEqual(0.1);
    expect(e.startupS / (e.startupS + (n - 1) * e.perFrameS)).toBeGreaterThan(0.1);
    expect(framesForShare(e, 0.1, 1, 100)).toBe(100); // the temp budget wins
    expect(framesForShare({ startupS: 0, perFrameS: 1 }, 0.1, 16, 100)).toBe(16);
    expect(framesForShare({ startupS: 1, perFrameS: 0 }, 0.1, 1, 50)).toBe(50);
    expect(() => framesForShare(e, 1, 1, 10)).toThrow(RangeError);
  });

  it('caps a call by its PNGs in the temp budget (this call and the next one)', () => {
    expect(maxFramesForTemp(960, 540, 2 * 2 ** 30)).toBe(Math.floor(2 * 2 ** 30 / (2 * 960 * 540 * 3)));
    expect(maxFramesForTemp(4000, 4000, 1)).toBe(1);
  });

  it('folds a short tail into the last call instead of paying a start-up for it', () => {
    expect(planCallFrames(64, 90, 1000)).toBe(90);
    expect(planCallFrames(64, 200, 1000)).toBe(64);
    expect(planCallFrames(64, 90, 80)).toBe(64); // not beyond the budget
    expect(planCallFrames(64, 10, 1000)).toBe(64);
  });

  it('reads the frame number of a "done" line, and nothing else', () => {
    expect(parseDoneLine('/tmp/x/in/000012.png -> /tmp/x/out/000012.png done')).toBe(12);
    expect(parseDoneLine('50.00%')).toBeNull();
    expect(parseDoneLine('[0 llvmpipe (LLVM 15.0.6, 256 bits)]  queueC=0[1]')).toBeNull();
    expect(realesrganArgs({ binary: 'b', modelsDir: 'm', model: 'realesr-animevideov3', scale: 2, tile: 0, gpu: '' }, 'i', 'o')).toContain('-v');
  });
});

describe('realesrgan-ncnn-vulkan in calls (real binary, CPU Vulkan driver)', () => {
  const tmp = tempDir('dancelift-calls-');
  afterAll(() => tmp.remove());
  const found = findRealesrgan(testConfig(tmp.dir));

  it('takes frames per call independent of the chunk size, measures the start-up at the first call and hands on frames before the call ends', async (ctx) => {
    if (!found) {
      console.warn('realesrgan-ncnn-vulkan not installed (npm run setup): skipped');
      return ctx.skip();
    }
    const w = 32;
    const h = 32;
    const frames = 6;
    const all = await decodeRgb(clips.girl, w, h, frames);
    const bytes = w * h * 3;
    // Six chunks of one frame, as the pipeline's decoder would hand them.
    const chunks: Chunk[] = Array.from({ length: frames }, (_, i) => ({ index: i, start: i, count: 1, width: w, height: h, format: 'rgb24', pixels: all.subarray(i * bytes, (i + 1) * bytes) }));
    async function* source() {
      yield* chunks;
    }
    const tempRoot = path.join(tmp.dir, 'run');
    mkdirSync(tempRoot);
    const logs: string[] = [];
    const ctx2: StageContext = { signal: new AbortController().signal, tempDir: tempRoot, log: (m) => logs.push(m) };
    const engine = createRealesrganUpscale({ binary: found.binary, modelsDir: found.modelsDir, model: 'realesr-animevideov3', scale: 2, tile: 0, gpu: '', firstCallFrames: 3, startupShare: 0.05 });
    const out: Chunk[] = [];
    const callsSeenAtEmit: number[] = [];
    await runInCalls(engine, source(), frames, ctx2, async (c) => {
      callsSeenAtEmit.push(engine.totals().calls);
      out.push(c);
    });
    const t = engine.totals();
    // The first call took 3 one-frame chunks: fewer calls than chunks.
    expect(t.frames).toBe(frames);
    expect(t.calls).toBeLessThan(frames);
    expect(t.calls).toBeGreaterThanOrEqual(1);
    // Measured at the first call: frames per call chosen from it (and logged), not the chunk size.
    expect(logs.some((l) => /start-up [\d.]+ s, [\d.]+ s per frame: \d+ frames per call/.test(l))).toBe(true);
    expect(t.framesPerCall).toBeGreaterThan(1);
    expect(t.startupS).toBeGreaterThan(0);
    expect(t.startupS).toBeLessThan(t.callS);
    // The first call's first chunk went on before that call had ended (no call counted yet).
    expect(callsSeenAtEmit[0]).toBe(0);
    // Every chunk came back, in order, upscaled.
    expect(out.map((c) => c.index)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const c of out) expect(c).toMatchObject({ width: 2 * w, height: 2 * h, count: 1 });
    expect(out.every((c) => c.pixels.length === 4 * bytes)).toBe(true);
    // Temp space was bounded by the calls' files and is gone.
    expect(t.peakCallTempBytes).toBeGreaterThan(0);
    expect(t.peakCallTempBytes).toBeLessThan(frames * (bytes + 4 * bytes) * 2);
    expect(readdirSync(tempRoot)).toEqual([]);

    // The same frames one chunk per call give the same pixels: batching changes nothing in the picture.
    const one = await engine.process(chunks[4], ctx2);
    expect(Buffer.compare(one.pixels, out[4].pixels)).toBe(0);
  }, 240_000);
});
