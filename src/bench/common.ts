/** What both workflows of the bench share: the config, the plan of the video, the background. */
import { execa } from 'execa';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { backgroundsDir, prepareBackground } from '../backgrounds/library.js';
import type { Background } from '../backgrounds/library.js';
import { planNormalize, type NormalizePlan } from '../pipeline/decode.js';
import { inputLimits, probeVideo, type VideoInfo } from '../media/probe.js';
import type { StageSample } from './stats.js';

export interface SideSpec {
  kind: 'pipeline' | 'stages' | 'reference';
  input: string;
  output: string;
  /** Root of dancelift's temp dirs (pipeline.tempDir), or the reference's working folder. */
  tempDir: string;
  dataDir: string;
  upscaler: 'realesrgan' | 'onnx';
  /** stages: also run the onnx upscaler alone, beside the ncnn one. */
  withOnnx: boolean;
  background: string;
}

/**
 * dancelift's own configuration (config/default.yaml and local.yaml) with the bench's folders, and
 * the realesrgan binary forced onto whatever Vulkan device there is: on a machine without a GPU
 * dancelift would otherwise upscale with lanczos, and the two workflows would not compare.
 */
export function benchConfig(spec: Pick<SideSpec, 'dataDir' | 'tempDir'>): Config {
  return loadConfig({
    env: { ...process.env, DANCELIFT_DATA_DIR: spec.dataDir, DANCELIFT_TEMP_DIR: spec.tempDir, DANCELIFT_REALESRGAN_ON_CPU: 'use' },
  });
}

export interface Prepared {
  info: VideoInfo;
  plan: NormalizePlan;
  background: Background;
}

export async function prepare(config: Config, input: string, background: string): Promise<Prepared> {
  const info = await probeVideo(input, inputLimits(config.pipeline));
  const plan = planNormalize(info, config.pipeline.maxInputShortSide);
  return { info, plan, background: await prepareBackground(background, backgroundsDir(config)) };
}

/** Runs a tool to completion; a failure carries the end of its stderr. */
export async function run(bin: string, args: string[], opts: { cwd?: string; input?: Buffer } = {}): Promise<void> {
  const r = await execa(bin, args, { cwd: opts.cwd, input: opts.input, reject: false, stdin: opts.input ? undefined : 'ignore', stdout: 'ignore' });
  if (r.exitCode !== 0) throw new Error(`${bin} failed (exit ${r.exitCode}): ${String(r.stderr).trim().split('\n').slice(-3).join(' | ')}`);
}

/** The onnx engine really ran (its provider fallbacks, e.g. cuda → cpu, are expected), not a substitute. */
export const isOnnxUpscaler = (engine: string) => /onnxruntime/i.test(engine);

export const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** side.js prints its result as the last line of stdout, after this tag. */
export const RESULT_TAG = 'BENCH_RESULT ';

export interface SideResult {
  wallS: number;
  /** As the pipeline itself reports it (its own 100 ms sampling); the bench samples too. */
  peakTempBytes: number;
  stages: StageSample[];
  /** The pipeline's upscaler said it fell back (e.g. onnx model missing). */
  fallbackFrom?: string;
}

