/**
 * fp16 copies of the upscaler models for GPU providers (half the memory traffic; tensor cores). They sit
 * beside the fp32 file as `<name>.fp16.onnx` (RVM's copy: rvm-fp16.ts), keep float32 inputs and outputs (a Cast at each end),
 * so every engine feeds and reads them exactly like the fp32 file; onnxruntime's CPU provider runs
 * them too, which is how provisioning checks them against fp32.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import type { Config } from '../../config/schema.js';
import { realesrganOnnxDir, realesrganOnnxFileName } from '../onnx-upscale-models.js';
import { modelFamily } from '../upscale-models.js';
import { findRealesrgan } from '../tools.js';
import { ProtoWriter } from './onnx-proto.js';
import { ncnnToOnnx } from './ncnn-to-onnx.js';


/** `x.onnx` → `x.fp16.onnx`. */
export function fp16Sibling(file: string): string {
  return path.join(path.dirname(file), `${path.basename(file, '.onnx')}.fp16.onnx`);
}

export const ONNX_FLOAT16 = 10;

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits of a number, rounded to nearest even (overflow → ±inf). */
export function toHalf(v: number): number {
  f32[0] = v;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const e8 = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (e8 === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const exp = e8 - 127 + 15;
  if (exp >= 0x1f) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = sign | (exp << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  // A carry out of the mantissa rounds up into the exponent, as it should.
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  return half;
}

/** A float16 initializer from float32 values (raw_data, little-endian). */
export function float16Tensor(name: string, dims: number[], data: Float32Array): ProtoWriter {
  const raw = new Uint8Array(data.length * 2);
  const view = new DataView(raw.buffer);
  for (let i = 0; i < data.length; i++) view.setUint16(i * 2, toHalf(data[i]), true);
  return new ProtoWriter().packedInts(1, dims).int(2, ONNX_FLOAT16).string(8, name).bytes(9, raw);
}

/** PSNR (0..1 signal) of two outputs of the same shape; Infinity when identical. */
export function psnr(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length || a.length === 0) throw new RangeError('psnr: outputs differ in size');
  let se = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.min(1, Math.max(0, a[i])) - Math.min(1, Math.max(0, b[i]));
    se += d * d;
  }
  const mse = se / a.length;
  return mse === 0 ? Infinity : 10 * Math.log10(1 / mse);
}

/** fp16 may differ from fp32 by about a level in 8 bits; below this it is not the same model any more. */
export const MIN_FP16_PSNR_DB = 40;

/** Both models on onnxruntime's CPU provider, one 24x24 patch of a synthetic picture: their PSNR. */
export async function compareOnCpu(fp32File: string, fp16File: string): Promise<number> {
  const side = 24;
  const data = new Float32Array(3 * side * side);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 37) % 251) / 250;
  const outputs: Float32Array[] = [];
  for (const file of [fp32File, fp16File]) {
    const s = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], logSeverityLevel: 3 });
    try {
      const out = (await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', data, [1, 3, side, side]) }))[s.outputNames[0]] as ort.Tensor;
      outputs.push(out.data as Float32Array);
    } finally {
      await s.release();
    }
  }
  return psnr(outputs[0], outputs[1]);
}

/**
 * Provisioning: an fp16 copy of each converted upscaler model (x2, x3, x4 of both families, the one
 * `upscale.model` picks and realesrgan.model), made from the same ncnn files as that fp32 model,
 * checked against it on the CPU; one that drifts is removed, not kept. Lines for the log.
 *
 * Each copy is converted from the ncnn files of the very model it sits beside: comparing the
 * "general" family's fp32 file (realesrgan-x4fast) with an fp16 converted from realesr-animevideov3
 * measured 15.6–16.2 dB and removed all three.
 */
export async function provisionFp16Upscalers(config: Config, log: (m: string) => void = () => {}): Promise<string[]> {
  const found = findRealesrgan(config);
  const lines: string[] = [];
  const families = [...new Set([modelFamily(config), config.upscale.realesrgan.model])];
  for (const [family, scale] of families.flatMap((f) => [2, 3, 4].map((n) => [f, n] as const))) {
    const fp32 = path.join(realesrganOnnxDir(config), realesrganOnnxFileName(family, scale));
    if (!found || !existsSync(fp32)) continue;
    const base = `${family}-x${scale}`;
    const param = path.join(found.modelsDir, `${base}.param`);
    const bin = path.join(found.modelsDir, `${base}.bin`);
    const out = fp16Sibling(fp32);
    const newer = await Promise.all([stat(out), stat(fp32)]).then(([a, b]) => a.mtimeMs >= b.mtimeMs, () => false);
    if (newer) {
      lines.push(`fp16 ${base}: up to date`);
      continue;
    }
    try {
      const r = ncnnToOnnx(await readFile(param, 'utf8'), new Uint8Array(await readFile(bin)), { precision: 'fp16', metadata: { precision: 'fp16', source: base } });
      await writeFile(out, r.onnx);
      const db = await compareOnCpu(fp32, out);
      if (!(db >= MIN_FP16_PSNR_DB)) {
        await rm(out, { force: true });
        lines.push(`fp16 ${base}: removed, ${db.toFixed(1)} dB against fp32 (< ${MIN_FP16_PSNR_DB})`);
      } else {
        lines.push(`fp16 ${base}: ${path.basename(out)}, ${db.toFixed(1)} dB against fp32 on the CPU`);
      }
    } catch (err) {
      await rm(out, { force: true });
      lines.push(`fp16 ${base}: failed: ${err instanceof Error ? err.message : String(err)}`);
    }
    log(lines[lines.length - 1]);
  }
  return lines;
}
