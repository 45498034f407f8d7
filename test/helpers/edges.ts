import { execa } from 'execa';
import { enhance } from '../../src/pipeline/index.js';
import type { EdgeMethod } from '../../src/pipeline/edges.js';
import type { Config } from '../../src/config/schema.js';
import { colourTags } from './colour.js';

const MATRIX: Record<string, string> = { bt709: 'bt709', smpte170m: 'bt601' };

/** All frames of stream `map` as rgb24 (read with the file's tags) or gray. */
async function frames(file: string, map: string, fmt: 'rgb24' | 'gray'): Promise<Buffer> {
  const t = await colourTags(file);
  const vf = fmt === 'rgb24' ? ['-vf', `scale=in_color_matrix=${MATRIX[t.space] ?? 'bt709'}:in_range=tv:flags=bicubic+accurate_rnd+full_chroma_int,format=rgb24`] : [];
  const { stdout } = await execa('ffmpeg', ['-v', 'error', '-i', file, '-map', map, ...vf, '-vsync', 'passthrough', '-f', 'rawvideo', '-pix_fmt', fmt, 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 30 });
  return Buffer.from(stdout);
}

export interface RimMeasure {
  /** Share of the old background (magenta) left in the edge band (0.25 ≤ α < 0.95), 0..1. */
  magentaLeft: number;
  bandPixels: number;
}

/**
 * A dancer composed on magenta (first run, which keeps its cut-out: the true foreground and alpha
 * of that composite), then run again onto white with edge cleaning `method`. Magenta and white
 * differ only in green, so the green missing from the second output, against the true foreground
 * over white, is the magenta left: measured over the edge band of the true alpha.
 */
export async function onMagenta(input: string, dir: string, config: Config): Promise<{ onMagenta: string; cut: string }> {
  const onMagenta = `${dir}/on-magenta.mp4`;
  const cut = `${dir}/on-magenta.cutout.mkv`;
  await enhance({ input, output: onMagenta, cutout: cut, background: '#ff00ff', upscaler: 'none', matting: 'rvm', config });
  return { onMagenta, cut };
}

/** The second run of magentaRim's measure, on what onMagenta() made. */
export async function magentaRim({ onMagenta, cut }: { onMagenta: string; cut: string }, dir: string, config: Config, method: EdgeMethod): Promise<RimMeasure> {
  const onWhite = `${dir}/on-white-${method}.mp4`;
  await enhance({ input: onMagenta, output: onWhite, background: '#ffffff', upscaler: 'none', matting: 'rvm', edges: method, config });
  const fg = await frames(cut, '0:v:0', 'rgb24');
  const alpha = await frames(cut, '0:v:1', 'gray');
  const out = await frames(onWhite, '0:v:0', 'rgb24');
  if (fg.length !== alpha.length * 3 || out.length !== fg.length) throw new Error(`sizes differ: fg ${fg.length}, alpha ${alpha.length}, out ${out.length}`);
  let missing = 0;
  let possible = 0;
  let bandPixels = 0;
  for (let i = 0; i < alpha.length; i++) {
    const a = alpha[i] / 255;
    if (a < 0.25 || a >= 0.95) continue;
    bandPixels++;
    const ideal = a * fg[3 * i + 1] + (1 - a) * 255;
    missing += ideal - out[3 * i + 1];
    possible += (1 - a) * 255;
  }
  return { magentaLeft: possible > 0 ? missing / possible : 0, bandPixels };
}
