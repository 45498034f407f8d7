/**
 * An upload is probed once on its way (issue 14): the producer's probe (or the bot's, handed to it)
 * travels with the job, and the pipeline reads it instead of running ffprobe again.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { enhanceJobSchema, type Requester } from '../src/queue/jobs.js';
import { inputLimits, probeVideo, travelling, withFile } from '../src/media/probe.js';
import { enhance } from '../src/pipeline/index.js';
import { submitEnhance } from '../src/queue/producer.js';
import { openService, type Service } from '../src/service/context.js';
import { makeClip, testConfig } from './helpers/fixtures.js';
import { clips, tempDir } from './helpers/media.js';

const tmp = tempDir('dancelift-probe-once-');
const prefix = `dltest-po-${randomBytes(4).toString('hex')}`;
const config = testConfig(tmp.dir, {
  REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
  DANCELIFT_QUEUE_PREFIX: prefix,
  DANCELIFT_MAX_SHORT_SIDE: '96',
});
const requester: Requester = { platform: 'telegram', chatId: 'chat-po', userId: 'u-po', locale: 'en' };

let service: Service;
let clip: string;

beforeAll(async () => {
  clip = await makeClip(tmp.dir, 'small.mp4', clips.girl, { seconds: 1, width: 96, height: 96, audio: false });
  service = await openService(config, { startEmbedded: false });
}, 60_000);

afterAll(async () => {
  await service?.queues.enhance.obliterate({ force: true }).catch(() => {});
  const keys = (await service?.redis.keys(`${prefix}:*`)) ?? [];
  if (keys.length > 0) await service.redis.del(...keys);
  await service?.close();
  tmp.remove();
});

const jobData = async (jobId: string) => enhanceJobSchema.parse((await service.queues.enhance.getJob(jobId))!.data);

describe('an upload is probed once', () => {
  it('the producer puts its probe in the job, without the path it was taken at', async () => {
    const { jobId } = await submitEnhance(service.producer, { file: clip, requester, background: 'white', options: { upscaler: 'none', matting: 'none' } });
    const probe = (await jobData(jobId)).input.probe;
    expect(probe).toEqual(travelling(await probeVideo(clip, inputLimits(config.pipeline))));
    expect(probe).not.toHaveProperty('file');
  });

  it("a caller's probe (a bot probed its download) is carried as given, not taken again", async () => {
    const own = await probeVideo(clip, inputLimits(config.pipeline));
    // A value ffprobe would never report for this clip: it can only have come from the caller.
    const marked = { ...own, fpsRational: '7/1', fps: 7 };
    const { jobId } = await submitEnhance(service.producer, { file: clip, requester: { ...requester, userId: 'u-po2' }, background: 'white', options: { upscaler: 'none', matting: 'none' }, probe: marked });
    expect((await jobData(jobId)).input.probe).toMatchObject({ fpsRational: '7/1', fps: 7 });
  });

  it('the pipeline reads the probe it is handed instead of probing the input again', async () => {
    const own = await probeVideo(clip, inputLimits(config.pipeline));
    const out = path.join(tmp.dir, 'out.mp4');
    // Only the duration differs from the truth: the result and its realtime factor show which one ran.
    const r = await enhance({ input: clip, output: out, upscaler: 'none', matting: 'none', config, probe: withFile(travelling({ ...own, durationS: 1000 }), clip) });
    expect(r.durationS).toBe(1000);
    const plain = await enhance({ input: clip, output: path.join(tmp.dir, 'out2.mp4'), upscaler: 'none', matting: 'none', config });
    expect(plain.durationS).toBeCloseTo(own.durationS, 3);
  }, 120_000);
});
