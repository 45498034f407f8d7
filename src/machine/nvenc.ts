/** Whether this machine's ffmpeg can encode with NVENC: listed, and a short real encode works. */
import { execa } from 'execa';
import { FFMPEG } from '../ffmpeg-names.js';
import { ffmpegPath } from './tools.js';

/** Pure: the encoders in `ffmpeg -hide_banner -encoders` output whose name mentions nvenc. */
export function parseNvencEncoders(out: string): string[] {
  return [...out.matchAll(/^\s*V\S*\s+(\w*nvenc\w*)\s/gm)].map((m) => m[1]);
}

export async function ffmpegNvencEncoders(ffmpeg = ffmpegPath() ?? FFMPEG): Promise<string[] | null> {
  const r = await execa(ffmpeg, ['-hide_banner', '-encoders'], { reject: false, timeout: 30_000 }).catch(() => null);
  if (!r || r.exitCode !== 0) return null;
  return parseNvencEncoders(String(r.stdout));
}

/** One short real encode: 256x256, 10 frames, to nowhere. */
export async function probeNvenc(ffmpeg = ffmpegPath() ?? FFMPEG): Promise<{ ok: boolean; detail: string }> {
  const r = await execa(ffmpeg, ['-v', 'error', '-nostdin', '-f', 'lavfi', '-i', 'testsrc2=s=256x256:r=10:d=1', '-frames:v', '10', '-c:v', 'h264_nvenc', '-f', 'null', '-'], {
    reject: false,
    timeout: 30_000,
  }).catch((err: unknown) => ({ exitCode: 1, stderr: err instanceof Error ? err.message : String(err) }));
  const detail = String(r.stderr ?? '').trim().split('\n').slice(-1)[0] ?? '';
  return { ok: r.exitCode === 0, detail: r.exitCode === 0 ? 'ok' : detail || `exit ${r.exitCode}` };
}
