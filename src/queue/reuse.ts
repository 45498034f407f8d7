import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { Config } from '../config/schema.js';
import { reframeRequest } from '../pipeline/reframe-stage.js';
import type { EnhanceJobData, EnhanceOptions, Requester } from './jobs.js';

/**
 * Instant repeats: what makes two requests "the same". The input is known by its content (sha256 of
 * the file, never its name or a platform's id); the settings by what the worker will really use,
 * defaults filled in from the config, so `--scale 2` and no flag with scale 2 configured are one.
 */

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** sha256 of a file, read as a stream (a 5-minute video is not held in memory). */
export async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Pure: the settings a job runs with, defaults resolved, in a fixed key order. */
export function effectiveSettings(config: Config, options: EnhanceOptions) {
  const matting = options.matting ?? config.matte.engine;
  return {
    scale: options.scale ?? config.upscale.scale,
    upscaler: options.upscaler ?? config.upscale.engine,
    model: options.model ?? config.upscale.model,
    matting,
    mattingModel: matting === 'rvm' ? options.mattingModel ?? config.matte.rvm.variant : null,
    edges: config.matte.edges,
    maxShortSide: config.pipeline.maxInputShortSide,
    encoder: config.encode.codec,
    reframe: { ...config.reframe, ...reframeRequest(options) },
  };
}

export interface ReuseKeys {
  /** The whole result: same input, same settings, same background. */
  result: string;
  /** The kept cut-out: same input and settings, whatever the background (a recompose serves it). */
  cutout: string;
}

/** Pure: the keys of a job whose input's sha256 is known. */
export function reuseKeys(config: Config, data: Pick<EnhanceJobData, 'background' | 'options'>, inputSha256: string): ReuseKeys {
  const settings = effectiveSettings(config, data.options);
  const o = data.options;
  return {
    result: sha256(JSON.stringify({ v: 1, input: inputSha256, settings, background: data.background, keepCutout: o.keepCutout, preview: o.preview ?? null, exportAlpha: Boolean(o.exportAlpha) })),
    cutout: sha256(JSON.stringify({ v: 1, input: inputSha256, settings })),
  };
}

/**
 * Pure: BullMQ's deduplication id. The same request from the same person in the same chat while
 * the first still runs becomes that job (one answer, one slot); anyone else gets a job of their own
 * (each gets their own delivery), which then finds the first one's result in the cache.
 */
export function deduplicationId(resultKey: string, requester: Pick<Requester, 'platform' | 'chatId' | 'userId'>): string {
  return sha256(JSON.stringify([resultKey, requester.platform, requester.chatId, requester.userId])).slice(0, 40);
}

/** BullMQ priorities: lower runs first, and a job without one would run before all of these. */
export const PRIORITY = { quick: 1, full: 10 } as const;

/** Pure: previews and repeats that the cache answers take a worker for seconds: they go first. */
export function jobPriority(options: Pick<EnhanceOptions, 'preview'>, cached: boolean): number {
  return options.preview !== undefined || cached ? PRIORITY.quick : PRIORITY.full;
}
