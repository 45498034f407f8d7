import { z } from 'zod';
import { isPipelineError } from '../../../errors.js';
import type { UpscalerEntry } from '../registry.js';
import { ortProviderSchema } from './ort-provider.js';
import { gpuOutOfMemory, withRealesrganTile } from './upscale-realesrgan.js';

/** config upscale.onnx; defaulted so that config files written before the onnx engine existed still load. */
export const onnxSettings = z
  .object({
    modelsDir: z.string(),
    providers: z.array(ortProviderSchema),
    tile: z.number().int().min(0),
  })
  .strict()
  .default({ modelsDir: '', providers: [], tile: 0 });

/**
 * `onnx`: the converted Real-ESRGAN model in onnxruntime. Without the model, or when no provider
 * runs it, the ncnn binary takes over (which itself may hand over to lanczos), and the stats say so.
 */
export const onnxUpscaler: UpscalerEntry = {
  name: 'onnx',
  kind: 'upscale',
  settings: onnxSettings,
  fallback: 'realesrgan',
  switchPhrase: 'using the same model in onnxruntime',
  // Same steps as realesrgan's, and the same setting: behaviour kept from before the registry.
  outOfMemory: gpuOutOfMemory,
  withTile: withRealesrganTile,
  async create({ config, scale, log }) {
    const { locateRealesrganOnnx } = await import('../../../machine/onnx-upscale-models.js');
    const { useTensorrtCache } = await import('../ort/providers.js');
    const { modelFamily, modelLabel } = await import('../../../machine/upscale-models.js');
    const { freshFp16 } = await import('../../../machine/fp16-models.js');
    const { fp16Sibling } = await import('../../../machine/provision/fp16.js');
    const loc = locateRealesrganOnnx(config, scale);
    useTensorrtCache(config.dataDir);
    if (!loc.found) return { why: `ONNX model ${loc.tried[0]?.path ?? ''} not found (run \`npm run setup\` to convert it)` };
    const own = config.upscale.onnx?.providers ?? [];
    try {
      const { createOnnxUpscaleThreaded } = await import('../ort/upscale-onnx-threaded.js');
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
      return { why: `onnx upscaler failed to start: ${err instanceof Error ? err.message : String(err)}` };
    }
  },
  async doctor(ctx) {
    const { realesrganOnnxCheck } = await import('../../../machine/doctor.js');
    return [realesrganOnnxCheck(ctx)];
  },
  async provision(config, ctx) {
    // Converts the ncnn models realesrgan's step installed: it runs after that step.
    const { provisionRealesrganOnnx } = await import('../../../machine/provision/realesrgan-onnx.js');
    return [await provisionRealesrganOnnx(config, ctx)];
  },
};
