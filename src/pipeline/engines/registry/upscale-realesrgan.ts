import { existsSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { PipelineSettings } from '../../../config/schema.js';
import { FFMPEG } from '../../../media/ffmpeg.js';
import type { UpscalerEntry } from '../registry.js';

/** config upscale.realesrgan */
export const realesrganSettings = z
  .object({
    binary: z.string(),
    modelsDir: z.string(),
    model: z.string().min(1),
    tile: z.number().int().min(0),
    gpu: z.union([z.string(), z.number()]).transform(String),
    onCpuDriver: z.enum(['onnx', 'fallback', 'use']),
    // Defaulted so that config files written before calls were batched still load.
    framesPerCall: z.union([z.literal('auto'), z.number().int().min(1).max(100000)]).default('auto'),
    firstCallFrames: z.number().int().min(2).max(100000).default(64),
    startupShare: z.number().gt(0).lt(1).default(0.05),
    maxCallTempMb: z.number().int().min(1).default(2048),
  })
  .strict();

/** Tiles tried after the GPU runs out of memory, before giving up on the GPU upscaler. */
const TILE_STEPS = [256, 128, 64];

/** A GPU upscaler's answer to an out-of-memory: a smaller realesrgan tile, then the CPU upscaler. */
export function gpuOutOfMemory(tile: number | undefined): { upscaler?: string; tile?: number; note: string } {
  const current = tile ?? 0;
  const next = TILE_STEPS.find((t) => current === 0 || t < current);
  if (next !== undefined) return { tile: next, note: `GPU out of memory: retried with realesrgan tile ${next}` };
  return { upscaler: FFMPEG, tile: undefined, note: 'GPU out of memory at the smallest tile: retried with the CPU upscaler (ffmpeg lanczos)' };
}

export function withRealesrganTile<C extends PipelineSettings>(config: C, tile: number): C {
  return { ...config, upscale: { ...config.upscale, realesrgan: { ...config.upscale.realesrgan, tile } } };
}

/** realesrgan-ncnn-vulkan: the Real-ESRGAN models on any Vulkan GPU, many frames per call. */
export const realesrganUpscaler: UpscalerEntry = {
  name: 'realesrgan',
  kind: 'upscale',
  settings: realesrganSettings,
  fallback: FFMPEG,
  switchPhrase: 'trying realesrgan-ncnn-vulkan instead',
  outOfMemory: gpuOutOfMemory,
  withTile: withRealesrganTile,
  async create({ config, scale }) {
    const { findRealesrgan, isCpuVulkanDevice, pickVulkanDevice, realesrganModelFiles, vulkanDeviceList } = await import('../../../machine/tools.js');
    const { modelFamily, modelLabel } = await import('../../../machine/upscale-models.js');
    const found = findRealesrgan(config);
    if (!found) return { why: 'realesrgan-ncnn-vulkan not installed (run `npm run setup`)' };
    const { realesrgan } = config.upscale;
    if (realesrgan.onCpuDriver !== 'use') {
      // Without a GPU the binary still runs, on Mesa's CPU driver, but the same weights in
      // onnxruntime's CPU provider were 16x faster in the bench (BENCHMARKS.md), so that is the
      // default there; `fallback` trades the quality for lanczos' speed.
      const device = pickVulkanDevice(await vulkanDeviceList().catch(() => []), realesrgan.gpu);
      if (device && isCpuVulkanDevice(device)) {
        const why = `no GPU: realesrgan-ncnn-vulkan would run on ${device.name}`;
        if (realesrgan.onCpuDriver === 'onnx') {
          return { why, instead: 'onnx', say: 'using the same model in onnxruntime, faster on a CPU', note: `${why}; onnxruntime runs the same model faster on a CPU` };
        }
        return { why: `${why} (set upscale.realesrgan.onCpuDriver: onnx or use to upscale with the model)` };
      }
    }
    const family = modelFamily(config);
    const lacking = realesrganModelFiles(family, scale).filter((f) => !existsSync(path.join(found.modelsDir, f)));
    if (lacking.length > 0) return { why: `the ${config.upscale.model} model is not installed (${lacking.join(', ')} missing in ${found.modelsDir}; run \`npm run setup\`)` };
    const { createRealesrganUpscale } = await import('../upscale-realesrgan.js');
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
  },
  async doctor(ctx) {
    const { realesrganCheck, vulkanCheck } = await import('../../../machine/doctor.js');
    return [realesrganCheck(ctx), await vulkanCheck(ctx)];
  },
  async provision(config, ctx) {
    const { provisionRealesrgan } = await import('../../../machine/provision/realesrgan.js');
    const { provisionGeneralModel } = await import('../../../machine/provision/general-model.js');
    // The general model's files go beside the binary's, so they come after it.
    return [await provisionRealesrgan(config, ctx), await provisionGeneralModel(config, ctx)];
  },
};
