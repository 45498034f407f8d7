import type { EnhanceOptions } from './jobs.js';

/** Tiles tried after the GPU runs out of memory, before giving up on the GPU upscaler. */
const TILE_STEPS = [256, 128, 64];

/**
 * Pure: what the next attempt changes after a GPU out-of-memory: a smaller realesrgan tile, then
 * the CPU upscaler. `note` goes into the stats so the user sees why the run took the path it did.
 */
export function afterOutOfMemory(options: EnhanceOptions): { options: EnhanceOptions; note: string } {
  if (options.upscaler === 'ffmpeg' || options.upscaler === 'none') {
    return { options, note: 'GPU out of memory again; retrying as it is' };
  }
  const current = options.tile ?? 0;
  const next = TILE_STEPS.find((t) => current === 0 || t < current);
  if (next !== undefined) return { options: { ...options, tile: next }, note: `GPU out of memory: retried with realesrgan tile ${next}` };
  return { options: { ...options, upscaler: 'ffmpeg', tile: undefined }, note: 'GPU out of memory at the smallest tile: retried with the CPU upscaler (ffmpeg lanczos)' };
}
