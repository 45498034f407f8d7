/**
 * A still turned into a slow, seamless video loop (a "Ken Burns" pan and zoom), so that a generated
 * picture feels alive behind the dancer. Zoom and centre follow sines of the loop's phase: the frame
 * after the last is the first again, so the library's looping plays without a jump.
 */
import { randomBytes } from 'node:crypto';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { PipelineError } from '../errors.js';
import { backgroundFileInputArgs, fileUrl } from './library.js';
import { FFMPEG, ffmpegBin } from '../media/ffmpeg.js';

export const LOOP_FPS = 25;

/**
 * Pure: the filter graph for `frames` frames of width x height. The picture is first enlarged 4x:
 * zoompan crops at whole pixels, and a whole-pixel step of a 1024 still is a visible judder, of a
 * 4096 one a quarter of that. Zoom breathes between 1.10 and 1.20; the centre circles within the
 * slack that zoom leaves, so no edge ever shows.
 */
export function kenBurnsFilter(width: number, height: number, frames: number, fps = LOOP_FPS): string {
  const phase = `(2*PI*on/${frames})`;
  const z = `1.15+0.05*sin(${phase})`;
  const x = `(iw-iw/zoom)/2*(1+0.8*cos(${phase}))`;
  const y = `(ih-ih/zoom)/2*(1+0.8*sin(${phase}))`;
  return `scale=iw*4:ih*4:flags=bicubic,zoompan=z='${z}':x='${x}':y='${y}':d=${frames}:s=${width}x${height}:fps=${fps},setsar=1,format=yuv420p`;
}

/** Even sides, at most `maxSide` on the long one (a loop need not be sharper than the video). */
export function loopSize(width: number, height: number, maxSide = 1080): [number, number] {
  const k = Math.min(1, maxSide / Math.max(width, height));
  const even = (n: number) => Math.max(2, Math.round((n * k) / 2) * 2);
  return [even(width), even(height)];
}

export interface LoopOptions {
  seconds: number;
  width: number;
  height: number;
  format?: string;
  signal?: AbortSignal;
  ffmpeg?: string;
}

/** Writes the loop to `out` (H.264, yuv420p, +faststart), through a hidden temp name. */
export async function makeKenBurnsLoop(image: string, out: string, opts: LoopOptions): Promise<void> {
  const frames = Math.max(2, Math.round(opts.seconds * LOOP_FPS));
  const [w, h] = loopSize(opts.width, opts.height);
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${randomBytes(4).toString('hex')}.tmp.mp4`);
  const input = backgroundFileInputArgs({ kind: 'image', path: image, name: '', format: opts.format }, { loop: false });
  try {
    const r = await execa(
      opts.ffmpeg ?? ffmpegBin(),
      [
        '-v', 'error', '-nostdin', '-y', ...input,
        '-vf', kenBurnsFilter(w, h, frames), '-frames:v', String(frames),
        '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-g', String(LOOP_FPS * 2),
        '-movflags', '+faststart', '-an', '-f', 'mp4', fileUrl(tmp),
      ],
      { reject: false, cancelSignal: opts.signal },
    );
    if (r.isCanceled) throw new PipelineError('CANCELLED', 'cancelled');
    if (r.exitCode !== 0) {
      const detail = String(r.stderr ?? '').trim().split('\n').pop() || `exit code ${r.exitCode}`;
      throw new PipelineError('TOOL_FAILED', `ffmpeg could not make the loop: ${detail}`, { tool: FFMPEG, detail });
    }
    await rename(tmp, out);
  } finally {
    await rm(tmp, { force: true });
  }
}
