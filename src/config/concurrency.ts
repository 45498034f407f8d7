/**
 * `queue.concurrency: auto`: as many jobs at once as the GPU's free memory holds, from what
 * nvidia-smi reports when the configuration is loaded and an estimate of one job's GPU memory by
 * its engines. No NVIDIA GPU: 1 (the engines then share the CPU, where two jobs gain nothing).
 */
import { nvidiaGpusSync, type NvidiaGpu } from '../machine/nvidia.js';

/**
 * MiB of GPU memory one job holds at 1080p output, per engine: realesrgan-ncnn-vulkan with its
 * automatic tile on a 12 GB card; the ONNX upscaler on whole 540p frames; RVM mobilenetv3 at 1080p
 * with onnxruntime's CUDA arena; NVENC's session. Estimates to be replaced by figures from
 * `npm run gpu-check` on a real card; the CPU engines take none.
 */
export const JOB_VRAM_MIB = {
  upscale: { realesrgan: 2500, onnx: 3000, ffmpeg: 0, none: 0 },
  matte: { rvm: 1700, command: 2000, none: 0 },
  encode: 300,
} as const;

/** Share of the free memory jobs may plan on: the rest is headroom for the desktop, fragmentation. */
const USABLE = 0.9;
const MAX_AUTO = 4;

export function jobVramMiB(upscale: keyof typeof JOB_VRAM_MIB.upscale, matte: keyof typeof JOB_VRAM_MIB.matte): number {
  return JOB_VRAM_MIB.upscale[upscale] + JOB_VRAM_MIB.matte[matte] + JOB_VRAM_MIB.encode;
}

/** Pure: jobs at once for this much free GPU memory (null: no NVIDIA GPU). */
export function concurrencyFromVram(freeMiB: number | null, perJobMiB: number): number {
  if (freeMiB === null || !(perJobMiB > 0)) return 1;
  return Math.max(1, Math.min(MAX_AUTO, Math.floor((freeMiB * USABLE) / perJobMiB)));
}

let gpus: NvidiaGpu[] | null | undefined;

/** Free MiB of the first NVIDIA GPU (asked once per process), or null. */
export function freeVramMiB(): number | null {
  if (gpus === undefined) gpus = nvidiaGpusSync();
  return gpus?.[0]?.memoryFreeMiB ?? null;
}
