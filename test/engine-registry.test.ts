import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { help, parseCommand } from '../src/cli/args.js';
import { doctor } from '../src/cli/engines.js';
import { loadConfig } from '../src/config/load.js';
import { configSchema } from '../src/config/schema.js';
import { createUpscaler } from '../src/pipeline/engines/index.js';
import { engineNames, registerEngine, type UpscalerEntry } from '../src/pipeline/engines/registry.js';
import { createNoUpscale } from '../src/pipeline/engines/passthrough.js';
import { enhanceOptionsSchema } from '../src/queue/jobs.js';
import { afterOutOfMemory } from '../src/queue/retry.js';

// A third upscaler, as a plugin would add one: this entry and the one registerEngine() call below
// are all it takes.
const stub: UpscalerEntry = {
  name: 'stub',
  kind: 'upscale',
  settings: z.object({ strength: z.number().min(0).max(1) }).strict().default({ strength: 0.5 }),
  fallback: 'ffmpeg',
  create: async ({ config }) => {
    const own = (config.upscale as unknown as { stub: { strength: number } }).stub;
    if (own.strength === 0) return { why: 'stub switched off (upscale.stub.strength 0)' };
    return { ...createNoUpscale(), info: () => ({ engine: `stub ${own.strength}`, device: 'cpu' }) };
  },
  doctor: async (ctx) => [{ name: 'stub upscaler', ok: true, required: ctx.required, detail: 'always here' }],
};
registerEngine(stub);

const baseConfig = () => structuredClone(loadConfig({ env: {} })) as Record<string, any>;

describe('the engine registry', () => {
  it('lists the built-in engines once, for every reader', () => {
    expect(engineNames('upscale')).toEqual(['realesrgan', 'onnx', 'ffmpeg', 'none', 'stub']);
    expect(engineNames('matte')).toEqual(['rvm', 'command', 'none']);
    expect(() => registerEngine(stub)).toThrow(/already registered/);
  });

  it('a registered upscaler is offered by the CLI, the job schema and the config schema, with its settings', () => {
    expect(parseCommand(['enhance', 'a.mp4', '--upscaler', 'stub'])).toMatchObject({ kind: 'enhance', opts: { upscaler: 'stub' } });
    expect(() => parseCommand(['enhance', 'a.mp4', '--upscaler', 'bogus'])).toThrow(/--upscaler must be one of realesrgan, onnx, ffmpeg, none, stub \(got "bogus"\)/);
    expect(help()).toContain('--upscaler realesrgan|onnx|ffmpeg|none|stub');

    expect(enhanceOptionsSchema.parse({ upscaler: 'stub' }).upscaler).toBe('stub');
    expect(enhanceOptionsSchema.safeParse({ upscaler: 'bogus' }).success).toBe(false);

    const c = baseConfig();
    c.upscale.engine = 'stub';
    delete c.upscale.stub;
    // Its settings block is defaulted like any other engine's, and checked strictly.
    expect((configSchema.parse(c).upscale as unknown as { stub: unknown }).stub).toEqual({ strength: 0.5 });
    c.upscale.stub = { strength: 2 };
    expect(configSchema.safeParse(c).success).toBe(false);
    c.upscale.engine = 'bogus';
    c.upscale.stub = { strength: 1 };
    const bad = configSchema.safeParse(c);
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.message).toContain("'stub'");
  });

  it("creates it, falls back along its entry's fallback, and retries it as it is after an out-of-memory", async () => {
    const config = configSchema.parse({ ...baseConfig(), upscale: { ...baseConfig().upscale, stub: { strength: 1 } } });
    const made = await createUpscaler(config, 'stub', 2, () => {});
    expect(made.info()).toMatchObject({ engine: 'stub 1' });

    const off = configSchema.parse({ ...baseConfig(), upscale: { ...baseConfig().upscale, stub: { strength: 0 } } });
    const logs: string[] = [];
    const instead = await createUpscaler(off, 'stub', 2, (m) => logs.push(m));
    expect(instead.info()).toMatchObject({ engine: 'ffmpeg lanczos', fallbackFrom: 'stub switched off (upscale.stub.strength 0)' });
    expect(logs).toEqual(['stub switched off (upscale.stub.strength 0); upscaling with ffmpeg lanczos instead']);
    await instead.close();

    expect(afterOutOfMemory({ keepCutout: false, upscaler: 'stub' })).toEqual({ options: { keepCutout: false, upscaler: 'stub' }, note: 'GPU out of memory again; retrying as it is' });
  });

  it('doctor runs its check, required when the config selects it', async () => {
    const config = configSchema.parse({ ...baseConfig(), upscale: { ...baseConfig().upscale, engine: 'stub' } });
    const result = await doctor(config);
    expect(result.checks.find((c) => c.name === 'stub upscaler')).toMatchObject({ ok: true, required: true });
    // The built-in upscalers' checks still run, no longer required.
    expect(result.checks.find((c) => c.name === 'realesrgan-ncnn-vulkan')).toMatchObject({ required: false });
  });
});
