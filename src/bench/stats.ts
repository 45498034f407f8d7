/**
 * The figures of one bench: raw per-run measurements in, medians and ratios out. Pure, so that the
 * maths is unit-tested apart from the slow runs.
 */

export interface StageSample {
  /** decode | upscale | upscale-onnx | matte | compose, or the reference's step names. */
  name: string;
  seconds: number;
  frames: number;
  engine: string;
  device: string;
  /** realesrgan-ncnn-vulkan's calls (start-up, frames per call), when that engine ran. */
  calls?: { calls: number; frames: number; startupS: number; callS: number; framesPerCall: number; peakCallTempBytes: number };
}

export interface SideSample {
  /** Processing time: from the job's start to its finished output (no Node start-up). */
  wallS: number;
  peakTempBytes: number;
  /** Sum of RSS over the side's process tree (node, ffmpeg, realesrgan), sampled. */
  peakRssBytes: number;
  stages: StageSample[];
}

export interface RunSample {
  pipeline: SideSample;
  /** dancelift with the onnx upscaler; absent when that engine is not installed. */
  onnxPipeline?: SideSample;
  /** Each stage of dancelift run alone on the whole clip, one after the other. */
  alone: StageSample[];
  reference: SideSample;
}

export interface StageFigure {
  name: string;
  seconds: number;
  frames: number;
  fps: number;
  engine: string;
  device: string;
}

export interface SideFigures {
  wallS: number;
  realtimeFactor: number;
  peakTempBytes: number;
  peakRssBytes: number;
  stages: StageFigure[];
}

export interface Summary {
  runs: number;
  durationS: number;
  frames: number;
  dancelift: SideFigures;
  onnx: SideFigures | null;
  reference: SideFigures;
  alone: StageFigure[];
  /** Sum of the four stages alone (decode, upscale, matte, compose). */
  aloneSumS: number;
  /** dancelift / reference, wall time. */
  wallRatio: number;
  /** The same ratio run by run: its spread shows how noisy the machine was. */
  wallRatioPerRun: number[];
  /** dancelift / reference, peak temp disk. */
  tempDiskRatio: number;
  /** Sum of the stages alone / dancelift's pipelined wall time. */
  overlapEfficiency: number;
  /** dancelift (onnx upscaler) / reference, wall time; null without the onnx engine. */
  onnxWallRatio: number | null;
  short: { durationS: number; runs: number; frames: number; peakTempBytes: number; wallS: number } | null;
  /**
   * The binary's start-up as a share of its calls in the pipeline runs (sum of the calls' start-ups /
   * sum of their wall times; median over runs); null when the binary did not run in calls.
   */
  ncnnStartupShare: number | null;
}

/** Start-up / call time of the upscale stage's calls in one run, or null. */
export function startupShare(stages: StageSample[]): number | null {
  const c = stages.find((s) => s.name === 'upscale')?.calls;
  return c && c.callS > 0 ? c.startupS / c.callS : null;
}

export function median(values: number[]): number {
  if (values.length === 0) throw new RangeError('median of nothing');
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** a / b, or NaN when b is 0 (shown as "n/a" rather than Infinity). */
export function ratio(a: number, b: number): number {
  return b === 0 ? Number.NaN : a / b;
}

/** The stages the four-way split of the pipeline is made of (upscale-onnx is shown beside, not summed). */
export const PIPELINE_STAGES = ['decode', 'upscale', 'matte', 'compose'] as const;

/** Median of each named stage across runs; the order is the first run's. */
export function medianStages(perRun: StageSample[][]): StageFigure[] {
  if (perRun.length === 0) return [];
  return perRun[0].map((first) => {
    const same = perRun.map((r) => r.find((s) => s.name === first.name)).filter((s): s is StageSample => s !== undefined);
    const seconds = median(same.map((s) => s.seconds));
    const frames = median(same.map((s) => s.frames));
    return { name: first.name, seconds, frames, fps: seconds > 0 ? frames / seconds : 0, engine: first.engine, device: first.device };
  });
}

export function summariseSide(samples: SideSample[], durationS: number): SideFigures {
  const wallS = median(samples.map((s) => s.wallS));
  return {
    wallS,
    realtimeFactor: ratio(wallS, durationS),
    peakTempBytes: median(samples.map((s) => s.peakTempBytes)),
    peakRssBytes: median(samples.map((s) => s.peakRssBytes)),
    stages: medianStages(samples.map((s) => s.stages)),
  };
}

export function summarise(runs: RunSample[], durationS: number, frames: number, shortRuns: SideSample[] = [], shortDurationS = 0): Summary {
  if (runs.length === 0) throw new RangeError('no runs to summarise');
  const dancelift = summariseSide(runs.map((r) => r.pipeline), durationS);
  const reference = summariseSide(runs.map((r) => r.reference), durationS);
  const onnxRuns = runs.map((r) => r.onnxPipeline).filter((s): s is SideSample => s !== undefined);
  const onnx = onnxRuns.length === runs.length ? summariseSide(onnxRuns, durationS) : null;
  const alone = medianStages(runs.map((r) => r.alone));
  const aloneSumS = alone.filter((s) => (PIPELINE_STAGES as readonly string[]).includes(s.name)).reduce((t, s) => t + s.seconds, 0);
  return {
    runs: runs.length,
    durationS,
    frames,
    dancelift,
    onnx,
    reference,
    alone,
    aloneSumS,
    wallRatio: ratio(dancelift.wallS, reference.wallS),
    wallRatioPerRun: runs.map((r) => ratio(r.pipeline.wallS, r.reference.wallS)),
    tempDiskRatio: ratio(dancelift.peakTempBytes, reference.peakTempBytes),
    overlapEfficiency: ratio(aloneSumS, dancelift.wallS),
    onnxWallRatio: onnx ? ratio(onnx.wallS, reference.wallS) : null,
    ncnnStartupShare: (() => {
      const shares = runs.map((r) => startupShare(r.pipeline.stages)).filter((v): v is number => v !== null);
      return shares.length ? median(shares) : null;
    })(),
    short: shortRuns.length
      ? { durationS: shortDurationS, runs: shortRuns.length, frames: shortRuns[0].stages[0]?.frames ?? 0, peakTempBytes: median(shortRuns.map((s) => s.peakTempBytes)), wallS: median(shortRuns.map((s) => s.wallS)) }
      : null,
  };
}
