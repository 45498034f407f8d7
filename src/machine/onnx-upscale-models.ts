/**
 * Where the ONNX copies of the Real-ESRGAN models live. Provisioning converts them from the ncnn
 * files (src/provision/realesrgan-onnx.ts); the `onnx` upscaler, doctor and the benchmark look them
 * up here, so all three agree.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import type { PipelineSettings } from '../config/schema.js';
import { packageRoot } from '../paths.js';
import { toolsRealesrganDir, type Attempt, type Found, type Located } from './tools.js';
import { modelFamily } from './upscale-models.js';

/** tools/realesrgan/onnx: beside the ncnn models they come from, replaced with them on reinstall. */
export function toolsRealesrganOnnxDir(root = packageRoot): string {
  return path.join(toolsRealesrganDir(root), 'onnx');
}

export function realesrganOnnxFileName(model: string, scale: number): string {
  return `${model}-x${scale}.onnx`;
}

/** The folder the converted models go to and are read from: config, else tools/realesrgan/onnx. */
export function realesrganOnnxDir(config: PipelineSettings, root = packageRoot): string {
  const configured = config.upscale.onnx.modelsDir;
  return configured ? path.resolve(root, configured) : toolsRealesrganOnnxDir(root);
}

export function locateRealesrganOnnx(config: PipelineSettings, scale: number, root = packageRoot): Located<Found> {
  const dir = realesrganOnnxDir(config, root);
  const file = path.join(dir, realesrganOnnxFileName(modelFamily(config), scale));
  const source = config.upscale.onnx.modelsDir ? 'config' : 'tools/';
  try {
    if (statSync(file).isFile()) return { found: { path: file, source }, tried: [] };
  } catch {
    /* reported below */
  }
  const tried: Attempt[] = [{ source, path: file, problem: 'no such file' }];
  return { found: null, tried };
}
