import type { PipelineSettings } from '../config/schema.js';

/**
 * Pure: only the pipeline's part of a config. Callers hand over the whole config; what goes on
 * into the run (engines, worker threads, logs) is this copy, so tokens and secrets never travel
 * with it. Typed as a full PipelineSettings literal, so a key added there must be added here.
 */
export function pipelineSettings(config: PipelineSettings): PipelineSettings {
  const { dataDir, pipeline, upscale, matte, encode, backgrounds, reframe, provision } = config;
  return { dataDir, pipeline, upscale, matte, encode, backgrounds, reframe, provision };
}
