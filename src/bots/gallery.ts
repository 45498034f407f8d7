/**
 * The background gallery: one JPEG with a thumbnail of each library background (the first frame of
 * the looping ones), in menu order, left to right and top to bottom; the caption numbers them.
 * One ffmpeg run; every background is opened with the library's safe input arguments.
 */
import { execa } from 'execa';
import { backgroundFileInputArgs, resolveBackground } from '../backgrounds/library.js';
import { PipelineError } from '../pipeline/errors.js';

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

export async function renderGallery(names: readonly string[], dir: string, out: string, cols = 4): Promise<void> {
  if (names.length === 0) throw new PipelineError('BACKGROUND_MISSING', 'the background library is empty', { name: '', available: '' });
  const inputs: string[] = [];
  for (const name of names) {
    const bg = await resolveBackground(name, dir, { allowPaths: false });
    if (bg.kind === 'color') throw new PipelineError('BACKGROUND_MISSING', `${name} is not a library file`, { name, available: '' });
    inputs.push(...backgroundFileInputArgs(bg, { loop: false }));
  }
  await execa('ffmpeg', ['-v', 'error', '-nostdin', '-y', ...inputs, '-filter_complex', galleryFilter(names.length, cols), '-map', '[out]', '-frames:v', '1', '-q:v', '4', '-f', 'image2', '-update', '1', out], {
    timeout: 60_000,
  });
}
