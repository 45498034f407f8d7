/**
 * `--preview SECONDS`: the most active stretch of the video, processed alone, so a user sees the
 * result in a fraction of the full run's time. "Most active" = the largest motion energy: the mean
 * absolute difference between consecutive frames, decoded small and grey (cheap: one ffmpeg pass
 * at 64 px wide), summed over every window of the preview's length.
 */
import { randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { PipelineError } from '../errors.js';
import { enhance, type EnhanceRequest, type EnhanceResult } from './index.js';
import { FFMPEG, ffmpegBin, fileUrl, INPUT_GUARDS } from '../media/ffmpeg.js';
import { inputLimits, probeVideo } from '../media/probe.js';
import { chooseTempRoot, makeRunDir } from './tempdir.js';

/** Motion is measured on frames this wide: enough to see a dancer move, tiny to decode. */
const ENERGY_WIDTH = 64;

/** Pure: motion energy per frame (frame 0 has none) from packed grey frames. */
export function frameEnergies(gray: Uint8Array, frameBytes: number): number[] {
  const n = Math.floor(gray.length / frameBytes);
  const out = new Array<number>(n).fill(0);
  for (let f = 1; f < n; f++) {
    let sum = 0;
    const a = (f - 1) * frameBytes;
    const b = f * frameBytes;
    for (let i = 0; i < frameBytes; i++) sum += Math.abs(gray[b + i] - gray[a + i]);
    out[f] = sum / frameBytes;
  }
  return out;
}

/**
 * Pure: the first frame of the `length`-frame window with the most motion (the earliest of equals).
 * A window's energy counts the changes *within* it, so frame `start`'s own difference to the frame
 * before is left out.
 */
export function mostActiveStart(energies: number[], length: number): number {
  if (length >= energies.length) return 0;
  let sum = 0;
  for (let i = 1; i < length; i++) sum += energies[i];
  let best = sum;
  let bestStart = 0;
  for (let start = 1; start + length <= energies.length; start++) {
    sum += energies[start + length - 1] - energies[start];
    if (sum > best + 1e-9) {
      best = sum;
      bestStart = start;
    }
  }
  return bestStart;
}

/** Motion energy of every frame of `file`, at its own frame rate. */
export async function motionEnergy(file: string, signal?: AbortSignal): Promise<number[]> {
  const r = await execa(
    ffmpegBin(),
    ['-v', 'error', '-nostdin', ...INPUT_GUARDS, '-i', fileUrl(file), '-map', '0:v:0', '-vf', `scale=${ENERGY_WIDTH}:${ENERGY_WIDTH}:flags=area,format=gray`, '-f', 'rawvideo', 'pipe:1'],
    { encoding: 'buffer', reject: false, cancelSignal: signal, maxBuffer: 1 << 30 },
  );
  if (r.isCanceled) throw new PipelineError('CANCELLED', 'cancelled');
  if (r.exitCode !== 0) {
    const detail = Buffer.from(r.stderr ?? '').toString().trim().split('\n').pop() || `exit ${r.exitCode}`;
    throw new PipelineError('TOOL_FAILED', `motion analysis failed: ${detail}`, { tool: FFMPEG, detail });
  }
  return frameEnergies(Buffer.from(r.stdout), ENERGY_WIDTH * ENERGY_WIDTH);
}

/** Pure: "out/clip.enhanced.mp4" → "out/clip.preview.mp4". */
export function previewPathFor(output: string): string {
  return output.replace(/\.enhanced\.mp4$/i, '').replace(/\.[^./\\]+$/, '') + '.preview.mp4';
}

export interface PreviewInfo {
  /** Where the preview starts in the original video, and how long it is (seconds). */
  startS: number;
  seconds: number;
  /** Time spent choosing the stretch and cutting it out. */
  selectS: number;
}

export type PreviewResult = EnhanceResult & { preview: PreviewInfo };

/**
 * Cuts the most active `seconds` out of the input (re-encoded near-losslessly, so the cut is exact
 * to the frame and carries its audio) and runs it through the same pipeline as a full job.
 */
export async function enhancePreview(req: EnhanceRequest & { previewS: number }): Promise<PreviewResult> {
  const t0 = performance.now();
  const { config } = req;
  const info = req.probe ?? (await probeVideo(req.input, inputLimits(config.pipeline), { signal: req.signal }));
  const fps = info.fps > 0 ? info.fps : 25;
  const energies = await motionEnergy(req.input, req.signal);
  const length = Math.max(1, Math.round(req.previewS * fps));
  const start = mostActiveStart(energies, length);
  const startS = start / fps;
  const seconds = Math.min(length, energies.length) / fps;
  const dir = await makeRunDir(await chooseTempRoot(config.pipeline.tempDir, 0), `preview-${req.jobId ?? randomUUID().slice(0, 8)}`);
  const cut = path.join(dir, 'preview-input.mkv');
  try {
    const r = await execa(
      ffmpegBin(),
      [
        '-v', 'error', '-nostdin', '-y', ...INPUT_GUARDS, '-i', fileUrl(req.input),
        // -ss/-t after -i: decoded and cut at the exact frame, not at the keyframe before.
        '-ss', startS.toFixed(6), '-t', seconds.toFixed(6), '-map', '0:v:0', '-map', '0:a:0?',
        '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '10', '-c:a', 'flac', '-f', 'matroska', fileUrl(cut),
      ],
      { reject: false, cancelSignal: req.signal },
    );
    if (r.isCanceled) throw new PipelineError('CANCELLED', 'cancelled');
    if (r.exitCode !== 0) {
      const detail = String(r.stderr ?? '').trim().split('\n').pop() || `exit ${r.exitCode}`;
      throw new PipelineError('TOOL_FAILED', `cutting the preview failed: ${detail}`, { tool: FFMPEG, detail });
    }
    const selectS = (performance.now() - t0) / 1000;
    // The cut is another file: its own probe, not the whole input's.
    const result = await enhance({ ...req, input: cut, probe: undefined });
    const totalS = (performance.now() - t0) / 1000;
    return {
      ...result,
      input: req.input,
      stats: { ...result.stats, totalS, realtimeFactor: totalS / Math.max(1e-6, result.durationS) },
      preview: { startS, seconds, selectS },
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
