import { describe, expect, it } from 'vitest';
import { enhanceJobSchema } from '../src/queue/jobs.js';

const job = (options: Record<string, unknown>) => ({
  requester: { platform: 'telegram', chatId: 'c', userId: 'u', locale: 'en' },
  input: { file: 'a.mp4', name: 'a.mp4', bytes: 1 },
  background: 'white',
  options,
  submittedAt: 0,
});

describe('enhance job: mattingModel', () => {
  it('carries the RVM network a job asks for', () => {
    expect(enhanceJobSchema.parse(job({ mattingModel: 'resnet50' })).options.mattingModel).toBe('resnet50');
    expect(enhanceJobSchema.parse(job({ mattingModel: 'mobilenetv3' })).options.mattingModel).toBe('mobilenetv3');
  });
  it('is optional, so jobs written before it existed still load (the config default applies)', () => {
    expect(enhanceJobSchema.parse(job({})).options.mattingModel).toBeUndefined();
  });
  it('refuses a network RVM does not publish', () => {
    expect(enhanceJobSchema.safeParse(job({ mattingModel: 'resnet101' })).success).toBe(false);
  });
});
