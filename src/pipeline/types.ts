/**
 * Shapes shared by the pipeline's stages. A chunk is a run of consecutive frames held in one
 * contiguous buffer, so that hand-offs between stages move one object, not hundreds.
 */

import type { CallTotals } from './engines/realesrgan-calls.js';

export type PixelFormat = 'rgb24' | 'rgba';

export interface Chunk {
  /** 0-based position of the chunk in the video. */
  index: number;
  /** Index of the chunk's first frame in the whole video. */
  start: number;
  /** Frames in this chunk. */
  count: number;
  width: number;
  height: number;
  format: PixelFormat;
  /** `count` frames, each width*height*channels bytes, packed. */
  pixels: Buffer;
}

export function channelsOf(format: PixelFormat): number {
  return format === 'rgba' ? 4 : 3;
}

export function frameBytes(width: number, height: number, format: PixelFormat): number {
  return width * height * channelsOf(format);
}

export interface StageContext {
  signal: AbortSignal;
  /** A directory private to this run; the stage may create files below it and must remove them. */
  tempDir: string;
  /** Called by engines that know better than the chunk hand-off when frames are done. */
  log: (msg: string, extra?: Record<string, unknown>) => void;
}

/** What one engine did: shown in the stats so that fallbacks are never silent. */
export interface EngineInfo {
  /** e.g. "realesrgan-ncnn-vulkan realesr-animevideov3-x2", "rvm (onnxruntime)". */
  engine: string;
  /** e.g. "llvmpipe (LLVM 15.0.6, 256 bits)", "onnxruntime cpu". */
  device: string;
  /** Set when the configured engine or provider could not be used and another took over. */
  fallbackFrom?: string;
  /** Engines that run a program in calls (realesrgan-ncnn-vulkan): calls, start-up, temp. */
  calls?: CallTotals;
}

/** A per-chunk engine: called once per chunk, in order. Engines with state (RVM) rely on that order. */
export interface ChunkEngine {
  info(): EngineInfo;
  process(chunk: Chunk, ctx: StageContext): Promise<Chunk>;
  close(): Promise<void>;
}

export interface UpscaleEngine extends ChunkEngine {
  readonly scale: number;
}

export type MatteEngine = ChunkEngine;

export type StageName = 'decode' | 'upscale' | 'matte' | 'compose';

export interface StageStats {
  name: StageName;
  /** Seconds the stage was busy (not waiting on its neighbours). */
  seconds: number;
  fps: number;
  frames: number;
  engine: string;
  device: string;
  fallbackFrom?: string;
  calls?: CallTotals;
}

export interface RunStats {
  stages: StageStats[];
  totalS: number;
  /** processing time / video duration: below 1 is faster than real time. */
  realtimeFactor: number;
  /** Largest number of bytes the run held in its temp dir at once. */
  peakTempBytes: number;
}

export interface Progress {
  stage: StageName;
  done: number;
  total: number;
  fps: number;
}
