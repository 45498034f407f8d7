import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { execa } from 'execa';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
/** ../shared beside the checkout: real clips and models (see shared/ASSETS.md). */
export const sharedDir = path.resolve(repoRoot, '..', 'shared');
export const media = (name: string) => path.join(sharedDir, 'media', name);
export const clips = {
  girl: media('girl_dancing_512x512_4fps.mp4'),
  musepose: media('musepose_dance_1080x1920_24fps_audio.mp4'),
  openpose: media('openpose_street_person_720p50_audio.mp4'),
  intel: media('intel_one_by_one_person_768x432_10fps.mp4'),
  officeJpg: media('rvm_demo_background_640x480.jpg'),
};
export const rvmModel = path.join(sharedDir, 'models', 'rvm_mobilenetv3_from_tfjs.onnx');

/** Decodes `count` frames of `file` scaled to width x height as packed rgb24. */
export async function decodeRgb(file: string, width: number, height: number, count: number): Promise<Buffer> {
  const { stdout } = await execa(
    'ffmpeg',
    ['-v', 'error', '-i', file, '-vf', `scale=${width}:${height}:flags=area`, '-frames:v', String(count), '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'],
    { encoding: 'buffer', maxBuffer: 1 << 30 },
  );
  return Buffer.from(stdout);
}

/** A temp dir removed by the returned function. */
export function tempDir(prefix = 'dancelift-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs ffmpeg with the given arguments (test fixtures only). */
export async function ffmpeg(args: string[]): Promise<void> {
  await execa('ffmpeg', ['-v', 'error', '-y', ...args]);
}

export interface ProbedStream { codec_type: string; codec_name: string; width?: number; height?: number; pix_fmt?: string; r_frame_rate?: string; nb_frames?: string; duration?: string; color_space?: string; color_primaries?: string; color_transfer?: string; color_range?: string }
export async function ffprobeJson(file: string): Promise<{ streams: ProbedStream[]; format: { duration?: string; format_name: string } }> {
  const { stdout } = await execa('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_streams', '-show_format', file]);
  return JSON.parse(stdout);
}
