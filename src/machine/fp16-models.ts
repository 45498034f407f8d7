/**
 * Which file an onnxruntime engine opens on a provider: the fp16 copy provisioning made (and
 * checked against fp32) on providers that compute in float16, the fp32 file everywhere else. Both
 * have float32 inputs and outputs, so the engine feeds them alike.
 */
import { statSync } from 'node:fs';

/** Providers that compute in float16 natively; on the CPU an fp16 model only adds Casts. */
export const FP16_PROVIDERS = ['cuda', 'tensorrt', 'webgpu'];

export type Precision = 'fp32' | 'fp16';

/** Pure: the fp16 copy on a GPU provider when there is one, else the fp32 file. */
export function modelForProvider(provider: string, modelPath: string, fp16ModelPath?: string): { file: string; precision: Precision } {
  return fp16ModelPath && FP16_PROVIDERS.includes(provider) ? { file: fp16ModelPath, precision: 'fp16' } : { file: modelPath, precision: 'fp32' };
}

/**
 * `fp16Path` when it exists and was made after `fp32Path` (an older copy belongs to a model that has
 * since been replaced); null otherwise.
 */
export function freshFp16(fp16Path: string, fp32Path: string): string | null {
  try {
    return statSync(fp16Path).isFile() && statSync(fp16Path).mtimeMs >= statSync(fp32Path).mtimeMs ? fp16Path : null;
  } catch {
    return null;
  }
}
