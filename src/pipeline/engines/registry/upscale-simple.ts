import { FFMPEG } from '../../../media/ffmpeg.js';
import type { UpscalerEntry } from '../registry.js';

/** ffmpeg's lanczos: no model, runs anywhere; the last resort every other upscaler falls back to. */
export const ffmpegUpscaler: UpscalerEntry = {
  name: FFMPEG, // named after the program it runs
  kind: 'upscale',
  switchPhrase: 'upscaling with ffmpeg lanczos instead',
  create: async ({ scale }) => (await import('../upscale-ffmpeg.js')).createFfmpegUpscale(scale),
};

/** `--upscaler none` (and every scale-1 run): frames go through untouched. */
export const noUpscaler: UpscalerEntry = {
  name: 'none',
  kind: 'upscale',
  create: async () => (await import('../passthrough.js')).createNoUpscale(),
};
