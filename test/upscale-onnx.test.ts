/**
 * The ONNX upscaler against the real thing: the x2 model converted here, run in onnxruntime on real
 * frames, compared with realesrgan-ncnn-vulkan's own output for the same PNGs (on Mesa's CPU Vulkan
 * driver here, where the binary needs seconds just to start).
 */
import { copyFileSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertIfNeeded, provisionRealesrganOnnx, stampPath } from '../src/machine/provision/realesrgan-onnx.js';
import { createOnnxUpscale } from '../src/pipeline/engines/upscale-onnx.js';
import { createUpscaler } from '../src/pipeline/engines/index.js';
import { realesrganArgs } from '../src/pipeline/engines/upscale-realesrgan.js';
import { findRealesrgan, isCpuVulkanDevice, pickVulkanDevice, vulkanDeviceList } from '../src/machine/tools.js';
import { PipelineError } from '../src/errors.js';
import type { Chunk, StageContext } from '../src/pipeline/types.js';
import { clips, ffmpeg, repoRoot, tempDir } from './helpers/media.js';
import { testConfig } from './helpers/fixtures.js';

const tmp = tempDir('dancelift-onnx-up-');
const work = (...p: string[]) => path.join(tmp.dir, ...p);
const MODEL = 'realesr-animevideov3-x2';
const SIDE = 64;
/** Real 64x64 crops: the musepose dancer's face and dress, and the girl_dancing dancer. */
const CROPS = [
  { clip: clips.musepose, at: 1, crop: '480:640' },
  { clip: clips.musepose, at: 7, crop: '480:640' },
  { clip: clips.girl, at: 0, crop: '220:150' },
];
const ctx = (signal = new AbortController().signal): StageContext => ({ signal, tempDir: work('tmp'), log: () => {} });
let onnxFile: string;
let input: Buffer;

async function rgb(file: string): Promise<Buffer> {
  const { stdout } = await execa('ffmpeg', ['-v', 'error', '-i', file, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], { encoding: 'buffer' });
  return Buffer.from(stdout);
}

/** PSNR of two 8-bit buffers, and how many values are "wrapped negatives" (see the test below). */
function compare(a: Uint8Array, b: Uint8Array): { psnr: number; maxDiff: number; wrapped: number } {
  let se = 0;
  let maxDiff = 0;
  let wrapped = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    se += d * d;
    maxDiff = Math.max(maxDiff, Math.abs(d));
    if (a[i] === 255 && b[i] === 0) wrapped++;
  }
  const mse = se / a.length;
  return { psnr: mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse), maxDiff, wrapped };
}

const chunkOf = (pixels: Buffer, count: number): Chunk => ({ index: 0, start: 0, count, width: SIDE, height: SIDE, format: 'rgb24', pixels });

beforeAll(async () => {
  mkdirSync(work('in'), { recursive: true });
  mkdirSync(work('tmp'), { recursive: true });
  for (const [i, c] of CROPS.entries()) {
    await ffmpeg(['-ss', String(c.at), '-i', c.clip, '-vf', `crop=${SIDE}:${SIDE}:${c.crop}`, '-frames:v', '1', work('in', `f${i}.png`)]);
  }
  input = Buffer.concat(await Promise.all(CROPS.map((_, i) => rgb(work('in', `f${i}.png`)))));
  // Sources copied so that the idempotence test may touch them.
  mkdirSync(work('src'));
  for (const ext of ['param', 'bin']) copyFileSync(path.join(repoRoot, 'tools', 'realesrgan', 'models', `${MODEL}.${ext}`), work('src', `${MODEL}.${ext}`));
  onnxFile = work('onnx', `${MODEL}.onnx`);
});
afterAll(() => tmp.remove());

describe('converting realesr-animevideov3 at provisioning', () => {
  it('converts once, then leaves the file alone until its source changes', async () => {
    const param = work('src', `${MODEL}.param`);
    const bin = work('src', `${MODEL}.bin`);
    expect(await convertIfNeeded(param, bin, onnxFile)).toBe('converted');
    const stamp = JSON.parse(readFileSync(stampPath(onnxFile), 'utf8'));
    expect(stamp.bin.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(await convertIfNeeded(param, bin, onnxFile)).toBe('up to date');
    // Dates do not decide (installed models carry their archive's 1985 dates): the bytes do.
    const later = new Date(Date.now() + 60_000);
    utimesSync(bin, later, later);
    expect(await convertIfNeeded(param, bin, onnxFile)).toBe('up to date');
    // A stamp from other sources (or a hand-edited one), or no stamp, means: convert again.
    writeFileSync(stampPath(onnxFile), JSON.stringify({ ...stamp, param: { ...stamp.param, sha256: '0'.repeat(64) } }));
    expect(await convertIfNeeded(param, bin, onnxFile)).toBe('converted');
    rmSync(stampPath(onnxFile));
    expect(await convertIfNeeded(param, bin, onnxFile)).toBe('converted');
    expect(await convertIfNeeded(param, bin, onnxFile)).toBe('up to date');
    expect(await convertIfNeeded(work('src', 'nope.param'), bin, work('onnx', 'nope.onnx'))).toBe('no source');
  });
});

describe('the provisioning step', () => {
  it('converts x2, x3 and x4 from the installed models, then reports them present', async () => {
    const root = work('checkout');
    const models = path.join(root, 'tools', 'realesrgan', 'models');
    mkdirSync(models, { recursive: true });
    for (const s of [2, 3, 4]) {
      for (const ext of ['param', 'bin']) copyFileSync(path.join(repoRoot, 'tools', 'realesrgan', 'models', `realesr-animevideov3-x${s}.${ext}`), path.join(models, `realesr-animevideov3-x${s}.${ext}`));
    }
    const config = testConfig(tmp.dir);
    // These frames and files are realesr-animevideov3's (the general model has its own tests).
    config.upscale.model = 'anime';
    const logs: string[] = [];
    const first = await provisionRealesrganOnnx(config, { root, env: { PATH: '' }, log: (m) => logs.push(m) });
    expect(first).toMatchObject({ name: 'realesrgan onnx', status: 'installed', required: false });
    expect(first.detail).toContain('x2, x3, x4');
    expect(logs.filter((l) => /^converted realesr-animevideov3-x\d\.param/.test(l))).toHaveLength(3);
    const again = await provisionRealesrganOnnx(config, { root, env: { PATH: '' }, log: () => {} });
    expect(again).toMatchObject({ status: 'present' });

    // Required when the configured engine is onnx, and a clear failure without the ncnn models.
    config.upscale.engine = 'onnx';
    const none = await provisionRealesrganOnnx(config, { root: work('empty-checkout'), env: { PATH: '' }, log: () => {} });
    expect(none).toMatchObject({ status: 'failed', required: true });
    expect(none.detail).toMatch(/no ncnn models to convert/);
    expect(none.fix).toContain('npm run setup');
  });
});

describe('the ONNX upscaler against realesrgan-ncnn-vulkan', () => {
  it('gives the binary’s pixels on real frames (PSNR ≥ 40 dB)', async () => {
    const found = findRealesrgan(testConfig(tmp.dir));
    expect(found, 'realesrgan-ncnn-vulkan is installed by npm run setup').not.toBeNull();
    mkdirSync(work('out'));
    const t0 = performance.now();
    const opts = { binary: found!.binary, modelsDir: found!.modelsDir, model: 'realesr-animevideov3', scale: 2, tile: 0, gpu: '' };
    const run = await execa(found!.binary, realesrganArgs(opts, work('in'), work('out')), { cwd: path.dirname(found!.binary), all: true, reject: false });
    const ncnnMs = performance.now() - t0;
    expect(run.exitCode, run.all).toBe(0);
    const device = /^\[0 (.+?)\]/m.exec(run.all ?? '')?.[1] ?? '?';

    const engine = await createOnnxUpscale({ modelPath: onnxFile, scale: 2, providers: ['cpu'], tile: 0 });
    try {
      expect(engine.info()).toMatchObject({ engine: `${MODEL} (onnxruntime-node)`, device: 'onnxruntime cpu' });
      const t1 = performance.now();
      const out = await engine.process(chunkOf(input, CROPS.length), ctx());
      const onnxMs = performance.now() - t1;
      expect(out).toMatchObject({ width: 2 * SIDE, height: 2 * SIDE, count: CROPS.length, format: 'rgb24' });
      const frame = 4 * SIDE * SIDE * 3;
      for (let i = 0; i < CROPS.length; i++) {
        const ref = await rgb(work('out', `f${i}.png`));
        const r = compare(ref, out.pixels.subarray(i * frame, (i + 1) * frame));
        console.log(`frame ${i}: PSNR ${r.psnr.toFixed(2)} dB vs realesrgan-ncnn-vulkan (max |diff| ${r.maxDiff}, wrapped ${r.wrapped})`);
        // The binary stores fp16 activations on this driver: a difference of 1 here and there.
        expect(r.psnr).toBeGreaterThanOrEqual(40);
      }
      console.log(
        `x2 of ${CROPS.length} frames ${SIDE}x${SIDE}: onnxruntime cpu ${(onnxMs / CROPS.length).toFixed(0)} ms/frame; ` +
          `realesrgan-ncnn-vulkan on ${device} ${(ncnnMs / CROPS.length).toFixed(0)} ms/frame (${(ncnnMs / 1000).toFixed(1)} s for the call, start-up included)`,
      );

      // Tiled, each tile with its 10-pixel margin of real neighbours: the same pixels, give or take fp16.
      const tiled = await createOnnxUpscale({ modelPath: onnxFile, scale: 2, providers: ['cpu'], tile: 32 });
      try {
        const t = await tiled.process(chunkOf(input, CROPS.length), ctx());
        const r = compare(out.pixels, t.pixels);
        console.log(`32 px tiles vs whole frames: PSNR ${r.psnr.toFixed(2)} dB`);
        expect(r.psnr).toBeGreaterThanOrEqual(45);
      } finally {
        await tiled.close();
      }
    } finally {
      await engine.close();
    }
  });
});

describe('createUpscaler(config, "onnx", ...)', () => {
  it('runs the model in a worker thread, with the same output as in process', async () => {
    const config = testConfig(tmp.dir);
    // These frames and files are realesr-animevideov3's (the general model has its own tests).
    config.upscale.model = 'anime';
    config.upscale.onnx.modelsDir = work('onnx');
    const logs: string[] = [];
    const threaded = await createUpscaler(config, 'onnx', 2, (m) => logs.push(m));
    const direct = await createOnnxUpscale({ modelPath: onnxFile, scale: 2, providers: ['cpu'], tile: 0 });
    try {
      expect(threaded.scale).toBe(2);
      expect(threaded.info()).toMatchObject({ engine: `anime: ${MODEL} (onnxruntime-node)`, device: 'onnxruntime cpu' });
      expect(threaded.info().fallbackFrom).toBeUndefined();
      const one = chunkOf(input.subarray(0, SIDE * SIDE * 3), 1);
      const [a, b] = [await threaded.process(one, ctx()), await direct.process(one, ctx())];
      expect(a.pixels.equals(b.pixels)).toBe(true);
      const aborted = new AbortController();
      aborted.abort();
      await expect(threaded.process(one, ctx(aborted.signal))).rejects.toMatchObject({ code: 'CANCELLED' });
    } finally {
      await threaded.close();
      await direct.close();
    }
  });

  it('says so and hands over to the ncnn path when the ONNX model is missing', async () => {
    const config = testConfig(tmp.dir);
    // These frames and files are realesr-animevideov3's (the general model has its own tests).
    config.upscale.model = 'anime';
    config.upscale.onnx.modelsDir = work('empty');
    const logs: string[] = [];
    const engine = await createUpscaler(config, 'onnx', 2, (m) => logs.push(m));
    try {
      const info = engine.info();
      expect(info.engine).not.toMatch(/onnxruntime/);
      // realesrgan-ncnn-vulkan where a GPU exists; here, a CPU driver only, ffmpeg lanczos after it.
      expect(info.engine).toMatch(/realesrgan-ncnn-vulkan|ffmpeg lanczos/);
      expect(info.fallbackFrom).toMatch(/ONNX model .*realesr-animevideov3-x2\.onnx not found \(run `npm run setup`/);
      expect(logs.join('\n')).toMatch(/trying realesrgan-ncnn-vulkan instead/);
      const out = await engine.process(chunkOf(input.subarray(0, SIDE * SIDE * 3), 1), ctx());
      expect(out).toMatchObject({ width: 2 * SIDE, height: 2 * SIDE });
    } finally {
      await engine.close();
    }
  });

  it('without a GPU, "realesrgan" runs the ONNX copy of the model by default; fallback means lanczos; use means the binary', async () => {
    const device = pickVulkanDevice(await vulkanDeviceList().catch(() => []));
    if (!device || !isCpuVulkanDevice(device)) {
      console.log(`skipped: the Vulkan device here is ${device?.name ?? 'missing'}, not a CPU driver, so the no-GPU choice does not apply`);
      return;
    }
    const config = testConfig(tmp.dir);
    // These frames and files are realesr-animevideov3's (the general model has its own tests).
    config.upscale.model = 'anime';
    expect(config.upscale.realesrgan.onCpuDriver).toBe('onnx');
    config.upscale.onnx.modelsDir = path.dirname(onnxFile);
    const cases = [
      { mode: 'onnx', engine: /onnxruntime-node/, why: /^no GPU: realesrgan-ncnn-vulkan would run on .*onnxruntime runs the same model faster on a CPU/ },
      { mode: 'fallback', engine: /^ffmpeg lanczos/, why: /^no GPU: .*onCpuDriver: onnx or use/ },
      { mode: 'use', engine: /^realesrgan-ncnn-vulkan/, why: undefined },
    ] as const;
    for (const c of cases) {
      config.upscale.realesrgan.onCpuDriver = c.mode;
      const engine = await createUpscaler(config, 'realesrgan', 2, () => {});
      try {
        const info = engine.info();
        expect(info.engine, c.mode).toMatch(c.engine);
        if (c.why) expect(info.fallbackFrom, c.mode).toMatch(c.why);
        else expect(info.fallbackFrom, c.mode).toBeUndefined();
        if (c.mode === 'onnx') {
          const out = await engine.process(chunkOf(input.subarray(0, SIDE * SIDE * 3), 1), ctx());
          expect(out).toMatchObject({ width: 2 * SIDE, height: 2 * SIDE });
        }
      } finally {
        await engine.close();
      }
    }
  });

  it('refuses a model file that is not one, with the reason, rather than upscaling wrong', async () => {
    writeFileSync(work('bad.onnx'), 'not a model');
    await expect(createOnnxUpscale({ modelPath: work('bad.onnx'), scale: 2, providers: ['cpu'], tile: 0 })).rejects.toBeInstanceOf(PipelineError);
    // The x2 model asked to do x3: the smoke test sees the wrong size before any frame is spoilt.
    await expect(createOnnxUpscale({ modelPath: onnxFile, scale: 3, providers: ['cpu'], tile: 0 })).rejects.toThrow(/expected 1x3x48x48 \(wrong scale\?\)/);
  });
});
