import type { Chunk, EngineInfo, UpscaleEngine, MatteEngine } from '../types.js';

/** `--upscaler none` (or scale 1): frames go through untouched. */
export function createNoUpscale(reason?: string): UpscaleEngine {
  return {
    scale: 1,
    info: (): EngineInfo => ({ engine: 'none', device: '-', ...(reason ? { fallbackFrom: reason } : {}) }),
    process: async (chunk: Chunk) => chunk,
    close: async () => {},
  };
}

/** `--matting none`: no cut-out; the compose step keeps the original background. */
export function createNoMatte(): MatteEngine {
  return {
    info: (): EngineInfo => ({ engine: 'none', device: '-' }),
    process: async (chunk: Chunk) => chunk,
    close: async () => {},
  };
}
