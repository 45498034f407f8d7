/**
 * Portrait reframing, the streaming part: RGBA chunks from the matting stage in, chunks on the new
 * canvas out. Frames wait for `window` later frames before they are placed (reframe-plan.ts looks
 * ahead that far), so at most one chunk plus a second of frames is held: memory stays O(chunk).
 */
import { alphaBox, placementAt, type AlphaBox, type Placement, type ReframeSettings } from './reframe-plan.js';
import type { Chunk } from './types.js';

export interface ReframeOptions extends ReframeSettings {
  /** Draw a soft contact shadow under the feet. */
  shadow: boolean;
}

/** The two source samples around output pixel `pos` (edge-clamped) and the weight of the second. */
function taps(pos: number, offset: number, inv: number, size: number): [number, number, number] {
  const f = (pos + 0.5 - offset) * inv - 0.5;
  const a = Math.floor(f);
  return [Math.min(size - 1, Math.max(0, a)), Math.min(size - 1, Math.max(0, a + 1)), f - a];
}

/**
 * Pure: draws one RGBA frame (straight alpha) scaled by s and moved by (dx, dy) onto a transparent
 * canvas. Bilinear on premultiplied colour, so the dancer's edges do not pick up the colour of
 * transparent pixels. At scale 1 the offset is rounded and rows are copied.
 */
export function placeFrame(src: Uint8Array, srcOff: number, sw: number, sh: number, p: Placement, out: Uint8Array, outOff: number, cw: number, ch: number): void {
  if (Math.abs(p.s - 1) < 1e-6) {
    const dx = Math.round(p.dx);
    const dy = Math.round(p.dy);
    const x0 = Math.max(0, dx);
    const x1 = Math.min(cw, dx + sw);
    if (x1 <= x0) return;
    for (let y = Math.max(0, dy); y < Math.min(ch, dy + sh); y++) {
      const from = srcOff + ((y - dy) * sw + (x0 - dx)) * 4;
      out.set(src.subarray(from, from + (x1 - x0) * 4), outOff + (y * cw + x0) * 4);
    }
    return;
  }
  const inv = 1 / p.s;
  const x0 = Math.max(0, Math.floor(p.dx));
  const x1 = Math.min(cw, Math.ceil(p.dx + sw * p.s));
  const y0 = Math.max(0, Math.floor(p.dy));
  const y1 = Math.min(ch, Math.ceil(p.dy + sh * p.s));
  const at = (x: number, y: number) => srcOff + (y * sw + x) * 4;
  const xs = Array.from({ length: Math.max(0, x1 - x0) }, (_, i) => taps(x0 + i, p.dx, inv, sw));
  for (let Y = y0; Y < y1; Y++) {
    const [ya, yb, wy] = taps(Y, p.dy, inv, sh);
    for (let X = x0; X < x1; X++) {
      const [xa, xb, wx] = xs[X - x0];
      const i00 = at(xa, ya);
      const i10 = at(xb, ya);
      const i01 = at(xa, yb);
      const i11 = at(xb, yb);
      const w00 = (1 - wx) * (1 - wy) * src[i00 + 3];
      const w10 = wx * (1 - wy) * src[i10 + 3];
      const w01 = (1 - wx) * wy * src[i01 + 3];
      const w11 = wx * wy * src[i11 + 3];
      const a = w00 + w10 + w01 + w11;
      if (a <= 0) continue;
      const o = outOff + (Y * cw + X) * 4;
      for (let c = 0; c < 3; c++) out[o + c] = Math.round((src[i00 + c] * w00 + src[i10 + c] * w10 + src[i01 + c] * w01 + src[i11 + c] * w11) / a);
      out[o + 3] = Math.round(a);
    }
  }
}

/**
 * Pure: a soft, dark ellipse under the feet, drawn *behind* what is on the canvas (the dancer stays
 * on top): alpha = a + (1 - a)·shadow, colour darkened by what the shadow adds.
 */
export function drawContactShadow(out: Uint8Array, outOff: number, cw: number, ch: number, feet: NonNullable<Placement['feet']>): void {
  const rx = Math.max(4, feet.width * 0.45);
  const ry = Math.max(2, rx * 0.16);
  const cy = feet.y - ry * 0.3;
  const strength = 0.5;
  for (let y = Math.max(0, Math.floor(cy - ry)); y < Math.min(ch, Math.ceil(cy + ry)); y++) {
    for (let x = Math.max(0, Math.floor(feet.x - rx)); x < Math.min(cw, Math.ceil(feet.x + rx)); x++) {
      const d = ((x + 0.5 - feet.x) / rx) ** 2 + ((y + 0.5 - cy) / ry) ** 2;
      if (d >= 1) continue;
      const sh = strength * (1 - d) * (1 - d);
      const o = outOff + (y * cw + x) * 4;
      const a = out[o + 3] / 255;
      const na = a + (1 - a) * sh;
      const k = na > 0 ? a / na : 0;
      for (let c = 0; c < 3; c++) out[o + c] = Math.round(out[o + c] * k);
      out[o + 3] = Math.round(na * 255);
    }
  }
}

interface Pending {
  chunk: Chunk;
  frame: number;
}

/**
 * Reframes a stream of RGBA chunks. Each output chunk holds the frames that became placeable when
 * an input chunk arrived (or, at the end, all that were left), so chunk sizes vary; their order and
 * indices are kept.
 */
export async function* reframeChunks(source: AsyncIterable<Chunk>, o: ReframeOptions, onPlaced?: (frame: number, p: Placement) => void): AsyncGenerator<Chunk> {
  const boxes: Array<AlphaBox | null> = [];
  const pending: Pending[] = [];
  let next = 0;
  let index = 0;
  let layer: [number, number] = [0, 0];
  const emit = (upTo: number): Chunk | null => {
    const count = Math.min(pending.length, upTo - next);
    if (count <= 0) return null;
    const frameBytes = o.width * o.height * 4;
    const pixels = Buffer.alloc(count * frameBytes);
    const start = next;
    for (let k = 0; k < count; k++) {
      const { chunk, frame } = pending.shift()!;
      const p = placementAt(next, boxes, layer, o);
      onPlaced?.(next, p);
      placeFrame(chunk.pixels, frame * chunk.width * chunk.height * 4, chunk.width, chunk.height, p, pixels, k * frameBytes, o.width, o.height);
      if (o.shadow && p.feet) drawContactShadow(pixels, k * frameBytes, o.width, o.height, p.feet);
      next++;
    }
    return { index: index++, start, count, width: o.width, height: o.height, format: 'rgba', pixels };
  };
  for await (const chunk of source) {
    if (chunk.format !== 'rgba') throw new Error('reframing needs RGBA frames (matting on)');
    layer = [chunk.width, chunk.height];
    for (let f = 0; f < chunk.count; f++) {
      boxes.push(alphaBox(chunk.pixels, f * chunk.width * chunk.height * 4, chunk.width, chunk.height));
      pending.push({ chunk, frame: f });
    }
    // A frame is placed once the look-ahead window after it is known.
    const out = emit(boxes.length - o.window);
    if (out) yield out;
  }
  const rest = emit(boxes.length);
  if (rest) yield rest;
}
