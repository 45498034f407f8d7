import type { Config } from '../../config/schema.js';
import { findRealesrgan, findRvmModel, isCpuVulkanDevice, pickVulkanDevice, vulkanDeviceList } from '../tools.js';
import { PipelineError } from '../errors.js';
import type { MatteEngine, UpscaleEngine } from '../types.js';
import { createNoMatte, createNoUpscale } from './passthrough.js';
import { createFfmpegUpscale } from './upscale-ffmpeg.js';
import { createRealesrganUpscale } from './upscale-realesrgan.js';
import { createRvmMatteThreaded } from './matte-rvm-threaded.js';
import { createCommandMatte } from './matte-command.js';

export type UpscalerName = Config['upscale']['engine'];
export type MattingName = Config['matte']['engine'];

function lanczosInstead(scale: number, why: string, log: (m: string) => void): UpscaleEngine {
  log(`${why}; upscaling with ffmpeg lanczos instead`);
  const fallback = createFfmpegUpscale(scale);
  return { ...fallback, info: () => ({ ...fallback.info(), fallbackFrom: why }) };
}

/** The upscaler asked for, or an honest substitute that says in the stats what it replaced. */
export async function createUpscaler(config: Config, engine: UpscalerName, scale: number, log: (m: string) => void): Promise<UpscaleEngine> {
  if (engine === 'none' || scale === 1) return createNoUpscale();
  if (engine === 'ffmpeg') return createFfmpegUpscale(scale);
  const found = findRealesrgan(config);
  if (!found) return lanczosInstead(scale, 'realesrgan-ncnn-vulkan not installed (run `npm run setup`)', log);
  const { realesrgan } = config.upscale;
  if (realesrgan.onCpuDriver === 'fallback') {
    // On a machine without a GPU the binary still runs, on Mesa's CPU driver, at about a minute per
    // 540p frame: a user waiting for a result is better served by lanczos and a clear note.
    const device = pickVulkanDevice(await vulkanDeviceList().catch(() => []), realesrgan.gpu);
    if (device && isCpuVulkanDevice(device)) {
      return lanczosInstead(scale, `no GPU: realesrgan-ncnn-vulkan would run on ${device.name} (set upscale.realesrgan.onCpuDriver: use to force it)`, log);
    }
  }
  return createRealesrganUpscale({
    binary: found.binary,
    modelsDir: found.modelsDir,
    model: realesrgan.model,
    scale,
    tile: realesrgan.tile,
    gpu: realesrgan.gpu,
  });
}

export async function createMatter(config: Config, engine: MattingName, log: (m: string) => void): Promise<MatteEngine> {
  if (engine === 'none') return createNoMatte();
  if (engine === 'command') return createCommandMatte({ template: config.matte.command.template });
  const model = findRvmModel(config);
  if (!model) {
    throw new PipelineError('MODEL_MISSING', 'the RVM model was not found', {
      fix: 'npm run setup, or set DANCELIFT_RVM_MODEL=/path/to/rvm_mobilenetv3_fp32.onnx',
    });
  }
  return createRvmMatteThreaded({
    modelPath: model.path,
    providers: config.matte.rvm.providers,
    downsampleRatio: config.matte.rvm.downsampleRatio,
    log,
  });
}
