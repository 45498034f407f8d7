/**
 * Which H.264 encoder a run uses. `auto` takes NVENC when an NVIDIA GPU is there and ffmpeg has
 * h264_nvenc and one short probe encode works (NVENC can be listed yet unusable: a driver without
 * its encode library, a card without an encoder, all sessions taken); otherwise, or after NVENC
 * fails once in this process, libx264. The probe's verdict is kept for the process's life.
 */
import type { EncodeSettings } from './compose.js';
import { nvidiaGpus } from '../machine/nvidia.js';
import { ffmpegNvencEncoders, probeNvenc } from '../machine/nvenc.js';
import { ffmpegBin } from '../media/ffmpeg.js';

export type CodecSetting = 'auto' | EncodeSettings['codec'];

export interface EncoderFacts {
  nvidiaGpu: boolean;
  ffmpegHasNvenc: boolean;
  /** null: not probed (not needed). */
  probe: { ok: boolean; detail: string } | null;
  /** NVENC already failed a real encode in this process. */
  failedBefore: string | null;
}

export interface EncoderChoice {
  codec: EncodeSettings['codec'];
  /** Why auto did not take NVENC although a GPU is there; shown as the compose stage's fallback. */
  fallbackFrom?: string;
}

/** Pure: the decision from what is known about the machine. */
export function pickEncoder(setting: CodecSetting, f: EncoderFacts): EncoderChoice {
  if (setting !== 'auto') return { codec: setting };
  if (!f.nvidiaGpu) return { codec: 'libx264' };
  if (!f.ffmpegHasNvenc) return { codec: 'libx264', fallbackFrom: 'ffmpeg has no h264_nvenc' };
  if (f.failedBefore) return { codec: 'libx264', fallbackFrom: `h264_nvenc failed earlier: ${f.failedBefore}` };
  if (f.probe && !f.probe.ok) return { codec: 'libx264', fallbackFrom: `h264_nvenc failed its probe encode: ${f.probe.detail}` };
  return { codec: 'h264_nvenc' };
}

// What this machine's ffmpeg offers is a machine fact (doctor reports it too): machine/nvenc.ts.
export { ffmpegNvencEncoders, parseNvencEncoders, probeNvenc } from '../machine/nvenc.js';

let known: Promise<Omit<EncoderFacts, 'failedBefore'>> | undefined;
let failedBefore: string | null = null;

/** NVENC failed a real encode: from now on `auto` means libx264 in this process. */
export function noteEncoderFailure(codec: EncodeSettings['codec'], detail: string): void {
  if (codec === 'h264_nvenc') failedBefore ??= detail.split('\n')[0].slice(0, 200);
}

/** Forget the probe (tests). */
export function resetEncoderChoice(): void {
  known = undefined;
  failedBefore = null;
}

/** The encode settings with a concrete codec, and why auto passed NVENC over if it did. */
export async function resolveEncode<E extends { codec: CodecSetting; crf: number; preset: string }>(e: E, ffmpeg = ffmpegBin()): Promise<EncodeSettings & EncoderChoice> {
  if (e.codec !== 'auto') return { ...e, codec: e.codec };
  known ??= (async () => {
    const nvidiaGpu = (await nvidiaGpus()) !== null;
    const encoders = nvidiaGpu ? await ffmpegNvencEncoders(ffmpeg) : null;
    const ffmpegHasNvenc = encoders?.includes('h264_nvenc') ?? false;
    return { nvidiaGpu, ffmpegHasNvenc, probe: nvidiaGpu && ffmpegHasNvenc ? await probeNvenc(ffmpeg) : null };
  })();
  const choice = pickEncoder('auto', { ...(await known), failedBefore });
  return { crf: e.crf, preset: e.preset, ...choice };
}
