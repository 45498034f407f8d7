/**
 * The background gallery picture: one JPEG with a square thumbnail of each input (the first frame
 * of a video), left to right and top to bottom. One ffmpeg run; the caller opens every input with
 * its own safe input arguments (src/backgrounds/library.ts), so this module knows no library.
 */
import { execa } from 'execa';
import { PipelineError } from '../errors.js';
import { ffmpegBin } from './ffmpeg.js';

const THUMB = 160;

/** Pure: the filter graph that scales/crops each input to a square and tiles them `cols` wide. */
export function galleryFilter(count: number, cols: number): string {
  const rows = Math.max(1, Math.ceil(count / cols));
  const parts = Array.from(
    { length: count },
    (_, i) => `[${i}:v]trim=end_frame=1,scale=${THUMB}:${THUMB}:force_original_aspect_ratio=increase,crop=${THUMB}:${THUMB},setsar=1,format=yuv420p,setpts=N[t${i}]`,
  );
  const inputs = Array.from({ length: count }, (_, i) => `[t${i}]`).join('');
  return `${parts.join(';')};${inputs}concat=n=${count}:v=1:a=0,tile=${Math.min(cols, count)}x${rows}:padding=6:margin=6:color=white[out]`;
}

/** Pure: the whole ffmpeg command line for these inputs (each its own `-i` group of arguments). */
export function galleryArgs(inputs: readonly (readonly string[])[], out: string, cols = 4): string[] {
  return ['-v', 'error', '-nostdin', '-y', ...inputs.flat(), '-filter_complex', galleryFilter(inputs.length, cols), '-map', '[out]', '-frames:v', '1', '-q:v', '4', '-f', 'image2', '-update', '1', out];
}

export async function renderGalleryPicture(inputs: readonly (readonly string[])[], out: string, cols = 4): Promise<void> {
  if (inputs.length === 0) throw new PipelineError('BACKGROUND_MISSING', 'the background library is empty', { name: '', available: '' });
  await execa(ffmpegBin(), galleryArgs(inputs, out, cols), { timeout: 60_000 });
}
