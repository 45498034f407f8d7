/**
 * The fp16 copy of the RVM model, for GPU providers (tools/models/<name>.fp16.onnx): made at
 * provisioning by convertToFp16 (float32 inputs and outputs kept, so the engine feeds it like the
 * fp32 file), then run beside the fp32 model on onnxruntime's CPU provider over the same frames,
 * recurrent states recycled, and removed when its alpha drifts. The CPU keeps using fp32.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import ort from 'onnxruntime-node';
import type { Config } from '../../config/schema.js';
import { packageRoot } from '../../paths.js';
import { rgb24ToPlanarFloat } from './rvm-tensor.js';
import { syntheticFrame } from '../../media/png.js';
import { ffmpegPath, locateRvmModel, toolsRvmFp16Path } from '../../machine/tools.js';
import { psnr } from '../../machine/provision/fp16.js';
import { convertToFp16 } from '../../machine/provision/onnx-to-fp16.js';

/**
 * fp16 may move an alpha value by a level or so at an edge; beyond these it is not the same matte.
 * Measured on girl_dancing (512², ratio 0.5, fp16 emulated): mean |Δα| about 0.00003, PSNR 72 dB
 * with the guided filter in float32; 31–33 dB, some pixels off by 1.0, with it in float16.
 */
export const RVM_FP16_LIMITS = { maxAlphaMad: 1 / 255, minAlphaPsnrDb: 40 } as const;

/**
 * RVM's refiner (the TF port's FastGuidedFilter) divides cov(x, y) by var(x) + eps, both
 * differences of box-filtered products that cancel in float16: the Div, the 8 nodes before it
 * (6 were too few: NaN) and everything after it stay float32. That part is cheap elementwise work and
 * box filters; the encoder and decoder, where the time goes, run in float16.
 */
export const RVM_FLOAT32_AROUND = { ops: ['Div'], depth: 8 };

export interface RvmFrames {
  width: number;
  height: number;
  ratio: number;
  /** Planar RGB 0..1, one per frame, in order. */
  frames: Float32Array[];
  /** Where they came from, for the log. */
  source: string;
}

export interface RvmComparison {
  /** Mean |α32 − α16| over every pixel of every frame (0..1 scale). */
  alphaMad: number;
  /** Worst frame's alpha PSNR, and the foreground's. */
  alphaPsnrDb: number;
  fgrPsnrDb: number;
  maxAlphaDiff: number;
  /** Per frame on this machine's CPU provider (the first frame included); fp16 unoptimised (see CpuRunMode). */
  fp32MsPerFrame: number;
  fp16MsPerFrame: number;
}

/** Pure: whether a comparison keeps the fp16 file. */
export function rvmFp16Passes(c: Pick<RvmComparison, 'alphaMad' | 'alphaPsnrDb'>): boolean {
  return c.alphaMad <= RVM_FP16_LIMITS.maxAlphaMad && c.alphaPsnrDb >= RVM_FP16_LIMITS.minAlphaPsnrDb;
}

/** The clip the check prefers: a person on a plain background, so alpha has edges to get wrong. */
export function rvmCheckClip(root = packageRoot): string {
  return path.resolve(root, '..', 'shared', 'media', 'girl_dancing_512x512_4fps.mp4');
}

/**
 * `count` frames of `clip` at `size`², or, without the clip or ffmpeg, synthetic frames (they still
 * take every path through the network, only with little alpha to compare).
 */
export async function rvmCheckFrames(clip: string, size = 512, count = 4): Promise<RvmFrames> {
  const planar = (rgb: Uint8Array, n: number) =>
    Array.from({ length: n }, (_, f) => {
      const out = new Float32Array(3 * size * size);
      rgb24ToPlanarFloat(rgb, f * 3 * size * size, size, size, out);
      return out;
    });
  const ratio = 0.5;
  const ffmpeg = ffmpegPath();
  if (ffmpeg && existsSync(clip)) {
    const r = await execa(ffmpeg, ['-v', 'error', '-nostdin', '-i', clip, '-frames:v', String(count), '-vf', `scale=${size}:${size}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
      encoding: 'buffer',
      reject: false,
    });
    const n = Math.floor(r.stdout.length / (3 * size * size));
    if (r.exitCode === 0 && n > 0) return { width: size, height: size, ratio, frames: planar(r.stdout, n), source: path.basename(clip) };
  }
  const rgb = Buffer.concat(Array.from({ length: count }, (_, i) => syntheticFrame(size, size, i)));
  return { width: size, height: size, ratio, frames: planar(rgb, count), source: 'synthetic frames' };
}

/**
 * onnxruntime's CPU provider has no float16 kernels on x86: it wraps each float16 node in Casts to
 * float32 and back. With graph optimisation on it then drops most of those pairs, which hides what
 * float16 storage does to the activations; with it off every intermediate value is rounded to
 * float16 between nodes, as on a GPU (whose kernels accumulate in float32 too). So the check runs
 * the fp16 model unoptimised ('emulate'), and the speed figure runs it optimised.
 */
export type CpuRunMode = 'optimised' | 'emulate';

export async function runRvmOnCpu(file: string, input: RvmFrames, mode: CpuRunMode = 'optimised'): Promise<{ pha: Float32Array[]; fgr: Float32Array[]; ms: number }> {
  const level = mode === 'emulate' ? 'disabled' : 'all';
  const s = await ort.InferenceSession.create(file, { executionProviders: ['cpu'], graphOptimizationLevel: level, logSeverityLevel: 3 });
  try {
    const { width: w, height: h } = input;
    const zero = new ort.Tensor('float32', new Float32Array(1), [1, 1, 1, 1]);
    const ratio = new ort.Tensor('float32', Float32Array.of(input.ratio), [1]);
    let states: ort.Tensor[] = [zero, zero, zero, zero];
    const pha: Float32Array[] = [];
    const fgr: Float32Array[] = [];
    const t0 = performance.now();
    for (const frame of input.frames) {
      const out = await s.run({ src: new ort.Tensor('float32', frame, [1, 3, h, w]), r1i: states[0], r2i: states[1], r3i: states[2], r4i: states[3], downsample_ratio: ratio });
      states = ['r1o', 'r2o', 'r3o', 'r4o'].map((k) => out[k] as ort.Tensor);
      pha.push((out.pha as ort.Tensor).data as Float32Array);
      fgr.push((out.fgr as ort.Tensor).data as Float32Array);
    }
    return { pha, fgr, ms: (performance.now() - t0) / input.frames.length };
  } finally {
    await s.release();
  }
}

/** Both models on the CPU provider over the same frames, states recycled as the engine does. */
export async function compareRvmOnCpu(fp32File: string, fp16File: string, input: RvmFrames): Promise<RvmComparison> {
  const a = await runRvmOnCpu(fp32File, input);
  const b = await runRvmOnCpu(fp16File, input, 'emulate');
  let sum = 0;
  let count = 0;
  let max = 0;
  let alphaPsnrDb = Infinity;
  let fgrPsnrDb = Infinity;
  a.pha.forEach((x, f) => {
    const y = b.pha[f];
    for (let i = 0; i < x.length; i++) {
      const d = Math.abs(x[i] - y[i]);
      sum += d;
      if (d > max) max = d;
    }
    count += x.length;
    alphaPsnrDb = Math.min(alphaPsnrDb, psnr(x, y));
    fgrPsnrDb = Math.min(fgrPsnrDb, psnr(a.fgr[f], b.fgr[f]));
  });
  return { alphaMad: sum / count, alphaPsnrDb, fgrPsnrDb, maxAlphaDiff: max, fp32MsPerFrame: a.ms, fp16MsPerFrame: b.ms };
}

export function formatRvmComparison(c: RvmComparison): string {
  return (
    `mean |Δα| ${c.alphaMad.toFixed(6)}, max ${c.maxAlphaDiff.toFixed(4)}, α PSNR ${c.alphaPsnrDb.toFixed(1)} dB, fgr PSNR ${c.fgrPsnrDb.toFixed(1)} dB`
  );
}

export interface RvmFp16Options {
  root?: string;
  log?: (m: string) => void;
  /** The clip whose frames the check runs; default rvmCheckClip(root). */
  clip?: string;
}

/**
 * Provisioning: the fp16 copy of the configured RVM model, made unless an up-to-date one is there,
 * and checked (RVM_FP16_LIMITS); one that fails is removed. Never throws: one line for the log.
 */
export async function provisionRvmFp16(config: Config, opts: RvmFp16Options = {}): Promise<string> {
  const root = opts.root ?? packageRoot;
  const line = (m: string) => {
    opts.log?.(m);
    return m;
  };
  const model = locateRvmModel(config, root).found;
  if (!model) return line('fp16 RVM: no RVM model to convert');
  const out = toolsRvmFp16Path(model.path, root);
  const name = path.basename(out);
  const upToDate = await Promise.all([stat(out), stat(model.path)]).then(([a, b]) => a.mtimeMs >= b.mtimeMs, () => false);
  if (upToDate) return line(`fp16 RVM ${name}: up to date`);
  const tmp = `${out}.tmp-${process.pid}`;
  try {
    const r = convertToFp16(new Uint8Array(await readFile(model.path)), { metadata: { dancelift_precision: 'fp16', dancelift_source: path.basename(model.path) }, float32Around: RVM_FLOAT32_AROUND });
    await mkdir(path.dirname(out), { recursive: true });
    await writeFile(tmp, r.onnx);
    const frames = await rvmCheckFrames(opts.clip ?? rvmCheckClip(root));
    const c = await compareRvmOnCpu(model.path, tmp, frames);
    if (!rvmFp16Passes(c)) {
      await rm(tmp, { force: true });
      return line(`fp16 RVM ${name}: removed, it drifts from fp32 on ${frames.source}: ${formatRvmComparison(c)}`);
    }
    await rename(tmp, out);
    return line(`fp16 RVM ${name}: ${r.halfNodes} nodes in fp16; against fp32 on ${frames.source}: ${formatRvmComparison(c)}`);
  } catch (err) {
    await rm(tmp, { force: true });
    return line(`fp16 RVM ${name}: failed: ${err instanceof Error ? err.message : String(err)}`);
  }
}
