import { describe, expect, it } from 'vitest';
import { fitPassArgs } from '../src/media/fit.js';
import { DEFAULT_FIT_POLICY, deliveryLine, planDelivery, scaleToShortSide, type DeliverySource } from '../src/media/plan.js';

const MiB = 1024 * 1024;
const LIMIT = 10 * MiB;
const portrait = (over: Partial<DeliverySource> = {}): DeliverySource => ({ bytes: 30 * MiB, width: 1440, height: 2560, fps: 24, durationS: 12, hasAudio: true, ...over });

describe('planDelivery', () => {
  it('sends a result that fits as it is (the limit itself included)', () => {
    expect(planDelivery(portrait({ bytes: 3 * MiB }), LIMIT)).toEqual({ kind: 'as-is' });
    expect(planDelivery(portrait({ bytes: LIMIT }), LIMIT)).toEqual({ kind: 'as-is' });
  });

  it('fits a short clip at the largest size that keeps a good bitrate per pixel', () => {
    const plan = planDelivery(portrait(), LIMIT);
    // 12 s in 95 % of 10 MiB, less 2 % container and 96 kbit/s of sound: 6412 kbit/s of video.
    // 1440x2560 would get 0.072 bits per pixel (under 0.08), 1080x1920 gets 0.129.
    expect(plan).toEqual({ kind: 'fitted', targetBytes: Math.floor(LIMIT * 0.95), width: 1080, height: 1920, videoKbps: 6412, audioKbps: 96, bitsPerPixel: 0.129 });
  });

  it('goes down to the 540p floor for a long clip, and no further', () => {
    const plan = planDelivery(portrait({ width: 1080, height: 1920, fps: 30, durationS: 60, bytes: 80 * MiB }), LIMIT);
    expect(plan).toMatchObject({ kind: 'fitted', width: 540, height: 960 });
    if (plan.kind !== 'fitted') throw new Error('unreachable');
    expect(plan.bitsPerPixel).toBeGreaterThanOrEqual(DEFAULT_FIT_POLICY.minBitsPerPixel);
    expect(plan.bitsPerPixel).toBeLessThan(DEFAULT_FIT_POLICY.goodBitsPerPixel);
  });

  it('sends the link alone when even the floor would be too starved', () => {
    const plan = planDelivery(portrait({ width: 1080, height: 1920, fps: 30, durationS: 300, bytes: 400 * MiB }), LIMIT);
    expect(plan.kind).toBe('link-only');
    expect(plan).toMatchObject({ width: 540, height: 960 });
    if (plan.kind !== 'link-only') throw new Error('unreachable');
    expect(plan.bitsPerPixel).toBeLessThan(DEFAULT_FIT_POLICY.minBitsPerPixel);
    // A limit so small that nothing is left for the video after the sound.
    expect(planDelivery(portrait({ durationS: 600 }), 50_000)).toMatchObject({ kind: 'link-only', bitsPerPixel: 0 });
  });

  it("never scales a source up: one under 540p keeps its own size as the floor", () => {
    const small = { bytes: 2 * MiB, width: 320, height: 240, fps: 25, durationS: 30, hasAudio: false };
    expect(planDelivery(small, 1 * MiB)).toMatchObject({ kind: 'fitted', width: 320, height: 240, audioKbps: 0 });
    expect(planDelivery(small, 40_000)).toMatchObject({ kind: 'link-only', width: 320, height: 240 });
  });

  it('keeps landscape sources landscape, with even sides, and assumes 30 fps when unknown', () => {
    const plan = planDelivery({ bytes: 50 * MiB, width: 1918, height: 1078, fps: 0, durationS: 40, hasAudio: false }, LIMIT);
    expect(plan).toMatchObject({ kind: 'fitted', width: 960, height: 540 });
    expect(scaleToShortSide(1918, 1078, 720)).toEqual({ width: 1282, height: 720 });
    expect(scaleToShortSide(101, 99, 540)).toEqual({ width: 102, height: 100 });
  });
});

describe('deliveryLine', () => {
  const base = { limitBytes: LIMIT, originalBytes: 23.5 * MiB, originalWidth: 1440, originalHeight: 2560 };
  it('says which of the three happened, in English and Chinese', () => {
    expect(deliveryLine({ ...base, kind: 'as-is', originalBytes: 8.1 * MiB }, 'en')).toBe('📦 Sent as is (8.1 MB, within the 10 MB limit)');
    expect(deliveryLine({ ...base, kind: 'fitted', sentBytes: 9.4 * MiB, sentWidth: 1080, sentHeight: 1920 }, 'en')).toBe(
      '📦 Re-encoded to fit the 10 MB limit (9.4 MB, 1080×1920); the original (23.5 MB, 1440×2560) is at the link',
    );
    expect(deliveryLine({ ...base, kind: 'link-only' }, 'en')).toBe('📦 Over the 10 MB limit even at a watchable size: link only (23.5 MB, 1440×2560)');
    expect(deliveryLine({ ...base, kind: 'fitted', sentBytes: 9.4 * MiB, sentWidth: 1080, sentHeight: 1920 }, 'zh')).toContain('重新编码');
    expect(deliveryLine({ ...base, kind: 'link-only' }, 'zh')).toContain('只发链接');
    expect(deliveryLine({ ...base, kind: 'as-is' }, 'zh')).toContain('原样发送');
  });
});

describe('fitPassArgs', () => {
  const plan = { kind: 'fitted' as const, targetBytes: 1000, width: 540, height: 960, videoKbps: 1200, audioKbps: 96, bitsPerPixel: 0.08 };
  const bt709 = { matrix: 'bt709' as const, range: 'tv' as const };
  it('opens the input through the guards, analyses without sound, then writes the file with it', () => {
    const one = fitPassArgs('/in/a.mp4', '/out/b.mp4', plan, 1, '/tmp/x/log', 'fast', bt709);
    expect(one).toEqual(expect.arrayContaining(['-protocol_whitelist', 'file', '-i', 'file:/in/a.mp4', '-pass', '1', '-an', '-f', 'null']));
    expect(one).not.toContain('/out/b.mp4');
    const two = fitPassArgs('/in/a.mp4', '/out/b.mp4', plan, 2, '/tmp/x/log', 'fast', bt709);
    expect(two.slice(-3)).toEqual(['-f', 'mp4', '/out/b.mp4']);
    expect(two.join(' ')).toContain('-b:v 1200k -maxrate 2400k -bufsize 4800k -pass 2 -passlogfile /tmp/x/log');
    expect(two.join(' ')).toContain('scale=540:960');
    expect(two.join(' ')).toContain('-c:a aac -b:a 96k');
    expect(fitPassArgs('/in/a.mp4', '/o.mp4', { ...plan, audioKbps: 0 }, 2, 'l', 'fast', bt709)).toContain('-an');
  });
  it('keeps the source matrix through the scale and tags it: a BT.709 result stays BT.709 at 540p', () => {
    const two = fitPassArgs('/in/a.mp4', '/out/b.mp4', plan, 2, 'l', 'fast', bt709).join(' ');
    expect(two).toContain('in_color_matrix=bt709:in_range=tv:out_color_matrix=bt709:out_range=tv,format=yuv420p');
    expect(two).toContain('-colorspace bt709 -color_primaries bt709 -color_trc bt709 -color_range tv');
    // An SD source fitted to SD stays BT.601; fitted to an HD-sized copy it is converted to BT.709.
    const bt601 = { matrix: 'bt601' as const, range: 'tv' as const };
    const sd = fitPassArgs('/in/a.mp4', '/out/b.mp4', { ...plan, width: 320, height: 240 }, 2, 'l', 'fast', bt601).join(' ');
    expect(sd).toContain('in_color_matrix=bt601:in_range=tv:out_color_matrix=bt601');
    expect(sd).toContain('-colorspace smpte170m');
    const up = fitPassArgs('/in/a.mp4', '/out/b.mp4', plan, 2, 'l', 'fast', bt601).join(' ');
    expect(up).toContain('in_color_matrix=bt601:in_range=tv:out_color_matrix=bt709');
  });
});
