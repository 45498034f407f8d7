import type { Config } from '../config/schema.js';
import type { Locale } from '../locale.js';

/**
 * The one decision both bots make before delivering a result to a chat with an upload limit:
 * send it as it is, send a copy re-encoded to fit (with the watch link for the original), or send
 * the link alone because not even a watchable floor fits. Pure: numbers in, a plan out.
 */

export interface DeliverySource {
  bytes: number;
  width: number;
  height: number;
  /** Frames per second; 0 when unknown (30 is assumed). */
  fps: number;
  durationS: number;
  hasAudio: boolean;
}

export interface FitPolicy {
  /** The short side a fitted copy may go down to (540p); a smaller source keeps its own. */
  minShortSide: number;
  /** Below this many bits per pixel H.264 turns to blocks on dance motion: link only. */
  minBitsPerPixel: number;
  /** At or above this a resolution is kept; below it the next smaller one is tried. */
  goodBitsPerPixel: number;
  /** AAC bitrate of a fitted copy that has sound. */
  audioKbps: number;
  /** The share of the limit kept free: an encoder overshoots a little, and multipart adds bytes. */
  headroom: number;
}

export const DEFAULT_FIT_POLICY: FitPolicy = {
  minShortSide: 540,
  minBitsPerPixel: 0.04,
  goodBitsPerPixel: 0.08,
  audioKbps: 96,
  headroom: 0.05,
};

/** The policy with config's `delivery:` floor (the bitrate steps stay the defaults). */
export function fitPolicy(config: Pick<Config, 'delivery'>): FitPolicy {
  return { ...DEFAULT_FIT_POLICY, minShortSide: config.delivery.minShortSide, minBitsPerPixel: config.delivery.minBitsPerPixel };
}

export type DeliveryPlan =
  | { kind: 'as-is' }
  | {
      kind: 'fitted';
      /** What the copy must stay under (the limit less the headroom). */
      targetBytes: number;
      width: number;
      height: number;
      videoKbps: number;
      audioKbps: number;
      bitsPerPixel: number;
    }
  | {
      kind: 'link-only';
      /** The floor resolution that was tried, and the bits per pixel it would have had. */
      width: number;
      height: number;
      bitsPerPixel: number;
    };

/** Short sides tried, largest first: the source's own, then common steps down to the floor. */
const STEPS = [1080, 720, 540, 480, 360];

/** `width`x`height` scaled so that its short side is `short`; both even (yuv420p needs it). */
export function scaleToShortSide(width: number, height: number, short: number): { width: number; height: number } {
  const srcShort = Math.min(width, height);
  const even = (n: number) => Math.max(2, Math.round(n / 2) * 2);
  if (short >= srcShort) return { width: even(width), height: even(height) };
  const f = short / srcShort;
  return width <= height ? { width: even(short), height: even(height * f) } : { width: even(width * f), height: even(short) };
}

export function planDelivery(src: DeliverySource, limitBytes: number, policy: FitPolicy = DEFAULT_FIT_POLICY): DeliveryPlan {
  const srcShort = Math.min(src.width, src.height);
  const floorShort = Math.min(policy.minShortSide, srcShort);
  const floor = scaleToShortSide(src.width, src.height, floorShort);
  if (src.bytes <= limitBytes) return { kind: 'as-is' };

  const fps = src.fps > 0 ? src.fps : 30;
  const durationS = Math.max(src.durationS, 0.1);
  const targetBytes = Math.floor(limitBytes * (1 - policy.headroom));
  const audioKbps = src.hasAudio ? policy.audioKbps : 0;
  // ~2 % of an MP4 at these rates is container (moov, sample tables).
  const videoKbps = Math.floor(((targetBytes * 8) / durationS / 1000) * 0.98 - audioKbps);
  const bpp = (size: { width: number; height: number }) => (videoKbps * 1000) / (size.width * size.height * fps);

  if (videoKbps > 0) {
    const shorts = [srcShort, ...STEPS.filter((s) => s < srcShort && s > floorShort), floorShort];
    for (const short of [...new Set(shorts)]) {
      const size = scaleToShortSide(src.width, src.height, short);
      const b = bpp(size);
      const atFloor = short === floorShort;
      if (b >= policy.goodBitsPerPixel || (atFloor && b >= policy.minBitsPerPixel)) {
        return { kind: 'fitted', targetBytes, ...size, videoKbps, audioKbps, bitsPerPixel: round3(b) };
      }
    }
  }
  return { kind: 'link-only', ...floor, bitsPerPixel: round3(Math.max(0, bpp(floor))) };
}

const round3 = (n: number) => Math.round(n * 1000) / 1000;

/** What was delivered, for the stats (fields) and the caption (deliveryLine). */
export interface DeliveryOutcome {
  kind: DeliveryPlan['kind'];
  /** The chat's upload limit. */
  limitBytes: number;
  originalBytes: number;
  originalWidth: number;
  originalHeight: number;
  /** The file uploaded (as-is or fitted); absent when only the link went. */
  sentBytes?: number;
  sentWidth?: number;
  sentHeight?: number;
}

const mb = (bytes: number) => `${(Math.round((bytes / 1024 / 1024) * 10) / 10).toString()} MB`;

/** One line for the stats caption saying which of the three happened, in the user's language. */
export function deliveryLine(o: DeliveryOutcome, locale: Locale): string {
  const zh = locale === 'zh';
  const limit = mb(o.limitBytes);
  const original = `${mb(o.originalBytes)}, ${o.originalWidth}×${o.originalHeight}`;
  if (o.kind === 'as-is') return zh ? `📦 原样发送（${mb(o.originalBytes)}，未超过 ${limit} 上限）` : `📦 Sent as is (${mb(o.originalBytes)}, within the ${limit} limit)`;
  if (o.kind === 'fitted') {
    const sent = `${mb(o.sentBytes ?? 0)}, ${o.sentWidth}×${o.sentHeight}`;
    return zh
      ? `📦 为适应 ${limit} 上限重新编码（${sent}）；原画质（${original}）请用链接`
      : `📦 Re-encoded to fit the ${limit} limit (${sent}); the original (${original}) is at the link`;
  }
  return zh ? `📦 超过 ${limit} 上限，压缩后也不够清晰：只发链接（${original}）` : `📦 Over the ${limit} limit even at a watchable size: link only (${original})`;
}
