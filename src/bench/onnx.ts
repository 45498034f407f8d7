/** Where the onnx upscaler's converted models live (tools/realesrgan/onnx unless configured). */
import path from 'node:path';
import type { Config } from '../config/schema.js';
import { packageRoot } from '../config/load.js';
import { toolsRealesrganDir } from '../machine/tools.js';

export function onnxModelsDir(config: Config): string {
  const configured = config.upscale.onnx?.modelsDir;
  return configured ? path.resolve(packageRoot, configured) : path.join(toolsRealesrganDir(), 'onnx');
}
