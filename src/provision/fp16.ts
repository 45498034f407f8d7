/**
 * fp16 copies of the ONNX models for GPU providers (half the memory traffic; tensor cores). They sit
 * beside the fp32 file as `<name>.fp16.onnx`, keep float32 inputs and outputs (a Cast at each end),
 * so every engine feeds and reads them exactly like the fp32 file; onnxruntime's CPU provider runs
 * them too, which is how provisioning checks them against fp32.
 */
import path from 'node:path';

/** `x.onnx` → `x.fp16.onnx`. */
export function fp16Sibling(file: string): string {
  return path.join(path.dirname(file), `${path.basename(file, '.onnx')}.fp16.onnx`);
}
