/** fp16 copies of the upscaler model: half floats, the converter's fp16 mode, checked against fp32 on the CPU. */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareOnCpu, fp16Sibling, provisionFp16Upscalers, psnr, toHalf } from '../src/machine/provision/fp16.js';
import { ncnnToOnnx } from '../src/machine/provision/ncnn-to-onnx.js';
import { findRealesrgan } from '../src/machine/tools.js';
import { testConfig } from './helpers/fixtures.js';
import { tempDir } from './helpers/media.js';

describe('toHalf', () => {
  it('gives the IEEE binary16 bits, rounding to nearest even', () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(0.1)).toBe(0x2e66);
    expect(toHalf(65504)).toBe(0x7bff);
    expect(toHalf(1e6)).toBe(0x7c00);
    expect(toHalf(2 ** -24)).toBe(0x0001); // smallest subnormal
    expect(toHalf(1e-9)).toBe(0);
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // a tie rounds to even
    expect(toHalf(Number.NaN) & 0x7c00).toBe(0x7c00);
  });

  it('psnr is infinite for equal outputs and finite otherwise', () => {
    expect(psnr(Float32Array.from([0.5, 1]), Float32Array.from([0.5, 1]))).toBe(Infinity);
    expect(psnr(Float32Array.from([0, 0]), Float32Array.from([0.1, 0.1]))).toBeCloseTo(20, 5);
  });
});

describe('the fp16 upscaler model', () => {
  const tmp = tempDir('dancelift-fp16-');
  afterAll(() => tmp.remove());
  it('keeps float32 input and output, halves the file and matches fp32 on the CPU', async (ctx) => {
    const found = findRealesrgan(testConfig(tmp.dir));
    if (!found) {
      console.warn('realesrgan models not installed (npm run setup): skipped');
      return ctx.skip();
    }
    const param = readFileSync(path.join(found.modelsDir, 'realesr-animevideov3-x2.param'), 'utf8');
    const bin = new Uint8Array(readFileSync(path.join(found.modelsDir, 'realesr-animevideov3-x2.bin')));
    const fp32 = path.join(tmp.dir, 'x2.onnx');
    writeFileSync(fp32, ncnnToOnnx(param, bin).onnx);
    const fp16 = fp16Sibling(fp32);
    expect(fp16).toBe(path.join(tmp.dir, 'x2.fp16.onnx'));
    const r = ncnnToOnnx(param, bin, { precision: 'fp16' });
    writeFileSync(fp16, r.onnx);
    expect(r.inputName).toBe('input');
    expect(statSync(fp16).size).toBeLessThan(0.6 * statSync(fp32).size);
    const db = await compareOnCpu(fp32, fp16);
    expect(db).toBeGreaterThan(40);
    expect(db).toBeLessThan(Infinity); // really a different (half-precision) model
  }, 120_000);

  it('provisioning converts each fp16 copy from the model it sits beside (the "general" family: realesrgan-x4fast)', async (ctx) => {
    const base = testConfig(tmp.dir);
    const found = findRealesrgan(base);
    if (!found) return ctx.skip();
    const dir = path.join(tmp.dir, 'onnx');
    const config = { ...base, upscale: { ...base.upscale, model: 'general' as const, onnx: { ...base.upscale.onnx, modelsDir: dir } } };
    const src = (ext: string) => path.join(found.modelsDir, `realesrgan-x4fast-x2.${ext}`);
    const fp32 = path.join(dir, 'realesrgan-x4fast-x2.onnx');
    mkdirSync(dir, { recursive: true });
    writeFileSync(fp32, ncnnToOnnx(readFileSync(src('param'), 'utf8'), new Uint8Array(readFileSync(src('bin')))).onnx);
    // Before the fix it converted realesr-animevideov3's ncnn files here: 16 dB, and removed.
    const lines = await provisionFp16Upscalers(config);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^fp16 realesrgan-x4fast-x2: realesrgan-x4fast-x2\.fp16\.onnx, (Infinity|\d+\.\d) dB/);
    expect(existsSync(fp16Sibling(fp32))).toBe(true);
    expect(await compareOnCpu(fp32, fp16Sibling(fp32))).toBeGreaterThan(40);
  }, 120_000);
});
