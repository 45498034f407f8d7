import { z } from 'zod';

/** onnxruntime execution providers a setting may name, tried in its order (the onnx and rvm engines). */
export const ortProviderSchema = z.enum(['tensorrt', 'cuda', 'webgpu', 'cpu', 'dml', 'coreml']);
