import type { Config } from '../../config/schema.js';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { findRealesrgan, findRvmFp16, isCpuVulkanDevice, pickVulkanDevice, realesrganModelFiles, vulkanDeviceList } from '../../machine/tools.js';
import { PipelineError, isPipelineError } from '../../errors.js';
import type { RvmVariant } from '../rvm-variants.js';
import { ensureRvmModel } from '../../machine/provision/rvm.js';
import { fp16Sibling } from '../../machine/provision/fp16.js';
import { freshFp16 } from '../fp16-models.js';
import type { MatteEngine, UpscaleEngine } from '../types.js';
import { createNoMatte, createNoUpscale } from './passthrough.js';
import { createFfmpegUpscale } from './upscale-ffmpeg.js';
import { createRealesrganUpscale } from './upscale-realesrgan.js';
import { createRvmMatteThreaded } from './matte-rvm-threaded.js';
import { createCommandMatte } from './matte-command.js';
import { createOnnxUpscaleThreaded } from './upscale-onnx-threaded.js';
import { locateRealesrganOnnx } from '../onnx-upscale-models.js';
import { useTensorrtCache } from './ort-providers.js';
import { modelFamily, modelLabel } from '../upscale-models.js';

export type UpscalerName = Config['upscale']['engine'];
export type MattingName = Config['matte']['engine'];

function lanczosInstead(scale: number, why: string, log: (m: string) => void): UpscaleEngine {
  log(`${why}; upscaling with ffmpeg lanczos instead`);
  const fallback = createFfmpegUpscale(scale);
  return { ...fallback, info: () => ({ ...fallback.info(), fallbackFrom: why }) };
}

/** `other`, with `why` in front of whatever fallback it reports itself. */
function insteadOf(other: UpscaleEngine, why: string): UpscaleEngine {
  return {
    ...other,
    info: () => {
      const i = other.info();
      return { ...i, fallbackFrom: i.fallbackFrom ? `${why}; ${i.fallbackFrom}` : why };
    },
  };
}

/**
 * `onnx`: the converted Real-ESRGAN model in onnxruntime. Without the model, or when no provider
 * runs it, the ncnn binary takes over (which itself may hand over to lanczos), and the stats say so.
 */
async function createOnnxUpscaler(config: Config, scale: number, log: (m: string) => void, otherwise: 'realesrgan' | 'lanczos' = 'realesrgan'): Promise<UpscaleEngine> {
  const loc = locateRealesrganOnnx(config, scale);
  useTensorrtCache(config.dataDir);
  let why: string;
  if (loc.found) {
    const own = config.upscale.onnx?.providers ?? [];
    try {
      return await createOnnxUpscaleThreaded({
        modelPath: loc.found.path,
        fp16ModelPath: freshFp16(fp16Sibling(loc.found.path), loc.found.path) ?? undefined,
        scale,
        providers: own.length > 0 ? own : config.matte.rvm.providers,
        tile: config.upscale.onnx?.tile ?? 0,
        label: modelLabel(config.upscale.model, modelFamily(config), scale),
        log,
      });
    } catch (err) {
      if (isPipelineError(err) && err.code === 'CANCELLED') throw err;
      why = `onnx upscaler failed to start: ${err instanceof Error ? err.message : String(err)}`;
    }
  } else {
    why = `ONNX model ${loc.tried[0]?.path ?? ''} not found (run \`npm run setup\` to convert it)`;
  }
  if (otherwise === 'lanczos') return lanczosInstead(scale, why, log);
  log(`${why}; trying realesrgan-ncnn-vulkan instead`);
  return insteadOf(await createUpscaler(config, 'realesrgan', scale, log), why);
}

/** The upscaler asked for, or an honest substitute that says in the stats what it replaced. */
export async function createUpscaler(config: Config, engine: UpscalerName, scale: number, log: (m: string) => void): Promise<UpscaleEngine> {
  if (engine === 'none' || scale === 1) return createNoUpscale();
  if (engine === 'ffmpeg') return createFfmpegUpscale(scale);
  if (engine === 'onnx') return createOnnxUpscaler(config, scale, log);
  const found = findRealesrgan(config);
  if (!found) return lanczosInstead(scale, 'realesrgan-ncnn-vulkan not installed (run `npm run setup`)', log);
  const { realesrgan } = config.upscale;
  if (realesrgan.onCpuDriver !== 'use') {
    // Without a GPU the binary still runs, on Mesa's CPU driver, but the same weights in
    // onnxruntime's CPU provider were 16x faster in the bench (BENCHMARKS.md), so that is the
    // default there; `fallback` trades the quality for lanczos' speed.
    const device = pickVulkanDevice(await vulkanDeviceList().catch(() => []), realesrgan.gpu);
    if (device && isCpuVulkanDevice(device)) {
      const why = `no GPU: realesrgan-ncnn-vulkan would run on ${device.name}`;
      if (realesrgan.onCpuDriver === 'onnx') {
        log(`${why}; using the same model in onnxruntime, faster on a CPU`);
        return insteadOf(await createOnnxUpscaler(config, scale, log, 'lanczos'), `${why}; onnxruntime runs the same model faster on a CPU`);
      }
      return lanczosInstead(scale, `${why} (set upscale.realesrgan.onCpuDriver: onnx or use to upscale with the model)`, log);
    }
  }
  const family = modelFamily(config);
  const lacking = realesrganModelFiles(family, scale).filter((f) => !existsSync(path.join(found.modelsDir, f)));
  if (lacking.length > 0) return lanczosInstead(scale, `the ${config.upscale.model} model is not installed (${lacking.join(', ')} missing in ${found.modelsDir}; run \`npm run setup\`)`, log);
  return createRealesrganUpscale({
    binary: found.binary,
    modelsDir: found.modelsDir,
    model: family,
    label: modelLabel(config.upscale.model, family, scale),
    scale,
    tile: realesrgan.tile,
    gpu: realesrgan.gpu,
    framesPerCall: realesrgan.framesPerCall,
    firstCallFrames: realesrgan.firstCallFrames,
    startupShare: realesrgan.startupShare,
    maxCallTempBytes: realesrgan.maxCallTempMb * 2 ** 20,
  });
}

export interface MatterOptions {
  /** RVM network; default config matte.rvm.variant. */
  variant?: RvmVariant;
  signal?: AbortSignal;
  /** Checkout root holding tools/ (tests). */
  root?: string;
}

export async function createMatter(config: Config, engine: MattingName, log: (m: string) => void, opts: MatterOptions = {}): Promise<MatteEngine> {
  if (engine === 'none') return createNoMatte();
  useTensorrtCache(config.dataDir);
  if (engine === 'command') return createCommandMatte({ template: config.matte.command.template });
  const variant = opts.variant ?? config.matte.rvm.variant;
  // The variant setup did not fetch is fetched here, on its first use.
  const model = await ensureRvmModel(config, variant, { root: opts.root, log, signal: opts.signal });
  return createRvmMatteThreaded({
    modelPath: model.path,
    // GPU providers take the fp16 copy provisioning made and checked (modelForProvider); the CPU keeps fp32.
    fp16ModelPath: findRvmFp16(model.path, opts.root) ?? undefined,
    variant,
    providers: config.matte.rvm.providers,
    downsampleRatio: config.matte.rvm.downsampleRatio,
    log,
  });
}
