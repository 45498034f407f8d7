import { z } from 'zod';
import { RVM_VARIANTS } from '../../../machine/rvm-variants.js';
import type { MatterEntry } from '../registry.js';
import { ortProviderSchema } from './ort-provider.js';

/** config matte.rvm */
export const rvmSettings = z
  .object({
    model: z.string(),
    /** Which RVM network a job uses unless it asks for the other (--matting-model). */
    variant: z.enum(RVM_VARIANTS).default('mobilenetv3'),
    providers: z.array(ortProviderSchema).min(1),
    downsampleRatio: z.union([z.literal('auto'), z.number().gt(0).max(1)]),
  })
  .strict();

/** Robust Video Matting in onnxruntime, in a worker thread. */
export const rvmMatter: MatterEntry = {
  name: 'rvm',
  kind: 'matte',
  settings: rvmSettings,
  async create({ config, log, variant: asked, signal, root }) {
    const { useTensorrtCache } = await import('../ort/providers.js');
    const { ensureRvmModel } = await import('../../../machine/provision/rvm.js');
    const { findRvmFp16 } = await import('../../../machine/tools.js');
    const { createRvmMatteThreaded } = await import('../ort/matte-rvm-threaded.js');
    useTensorrtCache(config.dataDir);
    const variant = asked ?? config.matte.rvm.variant;
    // The variant setup did not fetch is fetched here, on its first use.
    const model = await ensureRvmModel(config, variant, { root, log, signal });
    return createRvmMatteThreaded({
      modelPath: model.path,
      // GPU providers take the fp16 copy provisioning made and checked (modelForProvider); the CPU keeps fp32.
      fp16ModelPath: findRvmFp16(model.path, root) ?? undefined,
      variant,
      providers: config.matte.rvm.providers,
      downsampleRatio: config.matte.rvm.downsampleRatio,
      log,
    });
  },
  async doctor(ctx) {
    const { rvmChecks } = await import('../../../machine/doctor.js');
    return rvmChecks(ctx);
  },
  async provision(config, ctx, opts) {
    const { provisionRvm } = await import('../../../machine/provision/rvm.js');
    const variant = opts.mattingModel ?? config.matte.rvm.variant;
    return [await provisionRvm(config, ctx, variant, opts.mattingModel !== undefined)];
  },
};
