/**
 * A job's mattingModel goes from the producer through Redis to the worker and the pipeline: real
 * Redis (own queue prefix), real worker, real RVM. The service's model is the shared MobileNetV3
 * file (DANCELIFT_RVM_MODEL), so a job asking for resnet50 runs that file and its stats say so — which
 * can only happen if the field reached the engine.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DeliverJobData, Requester } from '../src/queue/jobs.js';
import { submitEnhance } from '../src/queue/producer.js';
import { startEnhanceWorker, type EnhanceWorker } from '../src/queue/worker.js';
import { openService, type Service } from '../src/service/context.js';
import { makeClip, testConfig } from './helpers/fixtures.js';
import { clips, tempDir } from './helpers/media.js';
import { deliverySink, type DeliverySink } from './helpers/deliveries.js';

const tmp = tempDir('dancelift-queue-mm-');
const prefix = `dltest-mm-${randomBytes(4).toString('hex')}`;
const config = testConfig(tmp.dir, {
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  DANCELIFT_QUEUE_PREFIX: prefix,
  DANCELIFT_MAX_SHORT_SIDE: '96',
});
const requester: Requester = { platform: 'telegram', chatId: 'chat1', userId: 'u-mm', locale: 'en' };

let service: Service;
let worker: EnhanceWorker;
let sink: DeliverySink;
let clip: string;

beforeAll(async () => {
  clip = await makeClip(tmp.dir, 'small.mp4', clips.girl, { seconds: 1, width: 96, height: 96, audio: false });
  service = await openService(config, { startEmbedded: false });
  sink = deliverySink(config, service);
  worker = startEnhanceWorker(service.worker);
}, 60_000);

afterAll(async () => {
  await worker?.close();
  await sink?.close();
  await service?.queues.enhance.obliterate({ force: true }).catch(() => {});
  const keys = (await service?.redis.keys(`${prefix}:*`)) ?? [];
  if (keys.length > 0) await service.redis.del(...keys);
  await service?.close();
  tmp.remove();
});

const delivered = (jobId: string) => sink.delivered(jobId, 240_000);

const matteOf = (d: DeliverJobData) => (d.outcome.ok ? d.outcome.result.stats.stages.find((s) => s.name === 'matte') : undefined);

describe('queue: a job chooses its RVM network', () => {
  it('mattingModel reaches the engine; a job without it gets the configured default', async () => {
    const asked = await submitEnhance(service.producer, { file: clip, requester, background: 'white', options: { upscaler: 'ffmpeg', matting: 'rvm', mattingModel: 'resnet50' } });
    const plain = await submitEnhance(service.producer, { file: clip, requester, background: 'white', options: { upscaler: 'ffmpeg', matting: 'rvm' } });
    expect((await service.queues.enhance.getJob(asked.jobId))!.data.options.mattingModel).toBe('resnet50');

    const a = await delivered(asked.jobId);
    const p = await delivered(plain.jobId);
    expect(a.outcome.ok && p.outcome.ok).toBe(true);
    // The engine, then what wraps it (edge cleaning, on by default).
    expect(matteOf(a)?.engine).toMatch(/^rvm mobilenetv3 \(onnxruntime-node\)( \+ edges \w+)?$/);
    expect(matteOf(a)?.fallbackFrom).toBe('asked for RVM resnet50, but rvm_mobilenetv3_from_tfjs.onnx is mobilenetv3');
    expect(matteOf(p)?.engine).toMatch(/^rvm mobilenetv3 \(onnxruntime-node\)( \+ edges \w+)?$/);
    expect(matteOf(p)?.fallbackFrom).toBeUndefined();
  }, 300_000);
});
