import { upscalerEntry } from '../pipeline/engines/registry.js';
import type { EnhanceOptions } from './jobs.js';

/**
 * Pure: what the next attempt changes after a GPU out-of-memory, as the upscaler's registry entry
 * says (realesrgan and onnx: a smaller tile, then the CPU upscaler). `note` goes into the stats so
 * the user sees why the run took the path it did. A job that names no upscaler is stepped as
 * realesrgan's, as it was before the registry.
 */
export function afterOutOfMemory(options: EnhanceOptions): { options: EnhanceOptions; note: string } {
  const step = upscalerEntry(options.upscaler ?? 'realesrgan').outOfMemory?.(options.tile);
  if (!step) return { options, note: 'GPU out of memory again; retrying as it is' };
  const { note, ...change } = step;
  return { options: { ...options, ...change }, note };
}
