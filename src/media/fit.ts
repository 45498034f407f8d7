import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { PipelineError } from '../errors.js';
import { FFMPEG, ffmpegBin, safeInputArgs } from './ffmpeg.js';
import { probeVideo, type VideoInfo } from './probe.js';
import { colourArgs, encodeColour, fromYuvOptions, type SourceColour } from './colour.js';
import type { Config } from '../config/schema.js';
import { deliveryLine, DEFAULT_FIT_POLICY, fitPolicy, planDelivery, type DeliveryOutcome, type DeliveryPlan, type FitPolicy } from './plan.js';
import type { Locale } from '../locale.js';

/**
 * Re-encodes a video to fit a byte budget: two-pass x264 at the bitrate planDelivery chose, so
 * the size lands on target (one pass at a capped rate misses by 10-30 % on dance motion). A copy
 * that still comes out too big is encoded once more at a rate scaled down by how far it missed.
 */

export type FittedPlan = Extract<DeliveryPlan, { kind: 'fitted' }>;

export interface FitOptions {
  /** x264 preset; slower ones look better at the same size. */
  preset?: string;
  /** Where the two-pass log goes (a fresh folder inside it, always removed). */
  tempDir?: string;
  signal?: AbortSignal;
  /** The most encodes of the second pass (the first try included). */
  maxTries?: number;
  /** The input's matrix and range (its probe's `colour`); probed when absent. */
  colour?: SourceColour;
}

export interface FitResult {
  bytes: number;
  /** Second-pass encodes it took. */
  tries: number;
}

/**
 * Pure: the ffmpeg arguments of one pass (1: analysis, no output; 2: the file). The copy keeps the
 * source's matrix and says so in its tags: a 1080p BT.709 result fitted to 540p would otherwise be
 * read as BT.601 by players (untagged SD) and shift its colours.
 */
export function fitPassArgs(input: string, output: string, plan: FittedPlan, pass: 1 | 2, passlog: string, preset: string, colour: SourceColour): string[] {
  const rate = plan.videoKbps;
  const out = encodeColour(colour, plan.width, plan.height);
  return [
    '-v', 'error', '-nostdin', '-y',
    ...safeInputArgs(input),
    '-map', '0:v:0', ...(pass === 2 && plan.audioKbps > 0 ? ['-map', '0:a:0?'] : []),
    '-vf', `scale=${plan.width}:${plan.height}:flags=lanczos:${fromYuvOptions(colour)}:out_color_matrix=${out.matrix}:out_range=tv,format=yuv420p`,
    '-c:v', 'libx264', '-preset', preset, '-profile:v', 'high', ...colourArgs(out),
    '-b:v', `${rate}k`,
    // A ceiling on the peaks keeps the copy streamable; the average is what two-pass controls.
    '-maxrate', `${Math.round(rate * 2)}k`, '-bufsize', `${Math.round(rate * 4)}k`,
    '-pass', String(pass), '-passlogfile', passlog,
    ...(pass === 1
      ? ['-an', '-f', 'null', process.platform === 'win32' ? 'NUL' : '/dev/null']
      : [...(plan.audioKbps > 0 ? ['-c:a', 'aac', '-b:a', `${plan.audioKbps}k`, '-ac', '2'] : ['-an']), '-movflags', '+faststart', '-f', 'mp4', output]),
  ];
}

export async function fitToSize(input: string, output: string, plan: FittedPlan, opts: FitOptions = {}): Promise<FitResult> {
  const ffmpeg = ffmpegBin();
  const preset = opts.preset ?? 'fast';
  const work = await mkdtemp(path.join(opts.tempDir ?? os.tmpdir(), 'dancelift-fit-'));
  const run = async (args: string[]) => {
    const r = await execa(ffmpeg, args, { reject: false, cancelSignal: opts.signal, timeout: 60 * 60_000 });
    if (r.isCanceled) throw new PipelineError('CANCELLED', 'cancelled');
    if (r.exitCode !== 0) {
      const detail = String(r.stderr).trim().split('\n').slice(-3).join(' | ');
      throw new PipelineError('TOOL_FAILED', `fitting to size failed: ${detail}`, { tool: FFMPEG, detail });
    }
  };
  try {
    const colour = opts.colour ?? (await probeVideo(input, NO_LIMITS, { signal: opts.signal })).colour;
    const passlog = path.join(work, 'x264');
    await run(fitPassArgs(input, output, plan, 1, passlog, preset, colour));
    let current = plan;
    const maxTries = opts.maxTries ?? 3;
    for (let tries = 1; ; tries++) {
      await run(fitPassArgs(input, output, current, 2, passlog, preset, colour));
      const { size } = await stat(output);
      if (size <= plan.targetBytes) return { bytes: size, tries };
      if (tries >= maxTries) throw new PipelineError('TOO_LARGE', `fitted copy is ${size} bytes, over ${plan.targetBytes}`, { bytes: size, target: plan.targetBytes });
      // x264 reuses pass 1's analysis at another rate; aim a little under the miss.
      current = { ...current, videoKbps: Math.max(1, Math.floor(current.videoKbps * (plan.targetBytes / size) * 0.95)) };
    }
  } catch (err) {
    await rm(output, { force: true });
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

// --- what a bot's delivery calls ---------------------------------------------------------------

export interface PreparedDelivery {
  plan: DeliveryPlan;
  /** The file to upload: the original (as-is), the fitted copy, or undefined (link only). */
  file?: string;
  width: number;
  height: number;
  durationS: number;
  outcome: DeliveryOutcome;
  /** The caption line that says which of the three happened. */
  line(locale: Locale): string;
  /** Removes the fitted copy, if one was made. Call it once the upload is done or failed. */
  cleanup(): Promise<void>;
}

export interface PrepareOptions extends FitOptions {
  /** The result to deliver (an output in the data dir). */
  file: string;
  /** This chat's upload limit in bytes. */
  limitBytes: number;
  /** Where the fitted copy goes; default beside the file, `<file>.fit-<limit>.mp4`. */
  fittedPath?: string;
  policy?: FitPolicy;
  /** false: never re-encode; over the limit the link goes alone (config delivery.fit). */
  fit?: boolean;
  /** Reports a fit that failed (the delivery goes on as link only). */
  onFitError?: (err: unknown) => void;
}

const NO_LIMITS = { maxDurationS: Infinity, maxLongSide: 100_000, maxShortSide: 100_000 };

/**
 * For a bot's delivery: probes the result, plans (planDelivery), fits when the plan says so, and
 * returns what to upload plus the stats line. A fit that fails or misses turns into link-only,
 * never into an upload the chat would refuse.
 */
export async function prepareDelivery(opts: PrepareOptions): Promise<PreparedDelivery> {
  const info: VideoInfo = await probeVideo(opts.file, NO_LIMITS, { signal: opts.signal });
  const { size } = await stat(opts.file);
  const plan = planDelivery({ bytes: size, width: info.width, height: info.height, fps: info.fps, durationS: info.durationS, hasAudio: info.audio !== null }, opts.limitBytes, opts.policy ?? DEFAULT_FIT_POLICY);
  const base = { limitBytes: opts.limitBytes, originalBytes: size, originalWidth: info.width, originalHeight: info.height };
  const done = (p: DeliveryPlan, outcome: DeliveryOutcome, file: string | undefined, width: number, height: number, cleanup = async () => {}): PreparedDelivery => ({
    plan: p,
    file,
    width,
    height,
    durationS: info.durationS,
    outcome,
    line: (locale) => deliveryLine(outcome, locale),
    cleanup,
  });
  if (plan.kind === 'as-is') return done(plan, { ...base, kind: 'as-is', sentBytes: size, sentWidth: info.width, sentHeight: info.height }, opts.file, info.width, info.height);
  if (plan.kind === 'fitted' && opts.fit !== false) {
    const out = opts.fittedPath ?? `${opts.file}.fit-${opts.limitBytes}.mp4`;
    try {
      const r = await fitToSize(opts.file, out, plan, { colour: info.colour, ...opts });
      return done(plan, { ...base, kind: 'fitted', sentBytes: r.bytes, sentWidth: plan.width, sentHeight: plan.height }, out, plan.width, plan.height, () => rm(out, { force: true }));
    } catch (err) {
      if (err instanceof PipelineError && err.code === 'CANCELLED') throw err;
      opts.onFitError?.(err);
    }
  }
  const linkOnly: DeliveryPlan = plan.kind === 'link-only' ? plan : { kind: 'link-only', width: plan.width, height: plan.height, bitsPerPixel: plan.bitsPerPixel };
  return done(linkOnly, { ...base, kind: 'link-only' }, undefined, info.width, info.height);
}

/** prepareDelivery with config's `delivery:` settings: the one call a bot's delivery makes. */
export function prepareDeliveryFor(config: Pick<Config, 'delivery'>, file: string, limitBytes: number, extra: Omit<PrepareOptions, 'file' | 'limitBytes'> = {}): Promise<PreparedDelivery> {
  return prepareDelivery({ file, limitBytes, policy: fitPolicy(config), preset: config.delivery.preset, fit: config.delivery.fit, ...extra });
}
