/** The standard test input: a real dance clip, looped, at the bench's size and rate, with its audio. */
import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import { run } from './common.js';
import { ffmpegBin } from '../media/ffmpeg.js';

export interface InputSpec {
  clip: string;
  seconds: number;
  width: number;
  height: number;
  fps: number;
}

/** Pure: the cache file name, so that each distinct input is built once. */
export function inputName(s: InputSpec): string {
  return `${path.basename(s.clip, path.extname(s.clip))}-${s.width}x${s.height}-${s.fps}fps-${s.seconds}s.mp4`;
}

/** Pure: ffmpeg arguments that loop the clip to length, cover-scale it (no stretching) and encode. */
export function inputArgs(s: InputSpec, out: string): string[] {
  return [
    '-v', 'error', '-nostdin', '-y', '-stream_loop', '-1', '-i', s.clip, '-t', String(s.seconds),
    '-vf', `scale=${s.width}:${s.height}:force_original_aspect_ratio=increase:flags=area,crop=${s.width}:${s.height},setsar=1,fps=${s.fps}`,
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '16', '-pix_fmt', 'yuv420p',
    '-c:a', 'aac', '-b:a', '128k', '-movflags', '+faststart', '-f', 'mp4', out,
  ];
}

export async function buildInput(s: InputSpec, cacheDir: string): Promise<string> {
  if (!existsSync(s.clip)) throw new Error(`${s.clip}: no such clip (pass --clip FILE)`);
  const out = path.join(cacheDir, inputName(s));
  if (existsSync(out)) return out;
  await mkdir(cacheDir, { recursive: true });
  const partial = `${out}.partial`;
  await run(ffmpegBin(), inputArgs(s, partial));
  await rename(partial, out);
  return out;
}
