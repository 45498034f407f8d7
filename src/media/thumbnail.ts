/**
 * The small picture a chat platform shows before a video has loaded (Telegram's `thumbnail`).
 */
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { ffmpegBin, fileUrl } from './ffmpeg.js';

/** Pure: a 320-px JPEG of the first frame of `video`, written to `out`. */
export function thumbnailArgs(video: string, out: string, size = 320): string[] {
  return ['-v', 'error', '-nostdin', '-y', '-i', fileUrl(video), '-frames:v', '1', '-vf', `scale=${size}:${size}:force_original_aspect_ratio=decrease`, '-q:v', '5', out];
}

/** A thumbnail beside the video (a fresh name each time: two deliveries never share one); the caller removes it. */
export async function makeThumbnail(video: string): Promise<string> {
  const out = `${video}.thumb-${randomBytes(3).toString('hex')}.jpg`;
  await execa(ffmpegBin(), thumbnailArgs(video, out), { timeout: 20_000 });
  return out;
}
