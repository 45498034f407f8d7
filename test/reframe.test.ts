import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alphaBox, canvasSize, placementAt, reframeSettings, type AlphaBox, type Placement } from '../src/pipeline/reframe-plan.js';
import { drawContactShadow, placeFrame, reframeChunks } from '../src/pipeline/reframe.js';
import { parseCommand } from '../src/cli/args.js';
import type { Chunk } from '../src/pipeline/types.js';
import { clips, ffprobeJson, repoRoot, rvmModel, tempDir } from './helpers/media.js';
import { makeClip } from './helpers/fixtures.js';

/** An RGBA frame with opaque rectangles (x, y, w, h) in one colour; the rest transparent. */
function frame(w: number, h: number, rects: Array<[number, number, number, number]>, rgb = [200, 120, 40]): Buffer {
  const buf = Buffer.alloc(w * h * 4);
  for (const [x0, y0, rw, rh] of rects) {
    for (let y = y0; y < y0 + rh; y++) for (let x = x0; x < x0 + rw; x++) buf.set([...rgb, 255], (y * w + x) * 4);
  }
  return buf;
}
const box = (left: number, top: number, right: number, bottom: number, cx = (left + right) / 2): AlphaBox => ({ left, top, right, bottom, cx });
/** Where frame t's box lands on the canvas. */
const placed = (b: AlphaBox, p: Placement) => ({ left: p.s * b.left + p.dx, right: p.s * b.right + p.dx, top: p.s * b.top + p.dy, bottom: p.s * b.bottom + p.dy, cx: p.s * b.cx + p.dx });
const std = (xs: number[]) => {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / xs.length);
};

describe('reframing: the plan (pure)', () => {
  it('the box ignores a stray speck; the body centre barely moves when an arm goes out', () => {
    const body = frame(100, 80, [[40, 10, 20, 60]]);
    expect(alphaBox(body, 0, 100, 80)).toMatchObject({ left: 40, top: 10, right: 60, bottom: 70 });
    expect(alphaBox(body, 0, 100, 80)!.cx).toBeCloseTo(50, 0);
    const speck = frame(100, 80, [[40, 10, 20, 60], [95, 2, 1, 1]]);
    expect(alphaBox(speck, 0, 100, 80)).toMatchObject({ left: 40, right: 60, top: 10 });
    const arm = alphaBox(frame(100, 80, [[40, 10, 20, 60], [60, 20, 30, 4]]), 0, 100, 80)!;
    expect(arm.right).toBe(90); // the box includes the arm (nothing gets cut)...
    expect(Math.abs(arm.cx - 50)).toBeLessThanOrEqual(3); // ...the centre stays on the body
    expect(alphaBox(Buffer.alloc(100 * 80 * 4), 0, 100, 80)).toBeNull();
  });

  it('canvas sizes: the height stays, width from the aspect, even', () => {
    expect(canvasSize('9:16', 384, 216)).toEqual([122, 216]);
    expect(canvasSize('1:1', 384, 216)).toEqual([216, 216]);
    expect(canvasSize('16:9', 144, 256)).toEqual([456, 256]);
    expect(canvasSize('source', 144, 256)).toEqual([144, 256]);
  });

  const settings = reframeSettings([122, 216], 24, {});

  it('follows a dancer walking across, centred, without lag', () => {
    const boxes = Array.from({ length: 96 }, (_, t) => box(40 + t * 3, 20, 80 + t * 3, 200));
    for (let t = 0; t < boxes.length; t++) {
      const q = placed(boxes[t], placementAt(t, boxes, [384, 216], settings));
      expect(Math.abs(q.cx - 61), `frame ${t}`).toBeLessThan(122 * 0.05);
    }
  });

  it('no jitter: a shaky box gives a steady frame', () => {
    const shake = (t: number) => ((t * 7919) % 13) - 6; // ±6 px of noise
    const boxes = Array.from({ length: 96 }, (_, t) => box(150 + shake(t), 20, 190 + shake(t), 200));
    const dx = boxes.map((_, t) => placementAt(t, boxes, [384, 216], settings).dx);
    expect(std(dx.slice(12, -12))).toBeLessThan(std(boxes.map((b) => b.cx)) / 4);
  });

  it('arms going up: nothing is cut, and the zoom-out starts before, gently', () => {
    const lift = 48;
    // Standing 170 px tall with head room; then from frame 48 to 79 the arms go up and out, wider than the 9:16 frame.
    const boxes = Array.from({ length: 96 }, (_, t) => (t < lift || t >= 80 ? box(160, 30, 200, 200) : box(115, 0, 245, 200)));
    const ps = boxes.map((_, t) => placementAt(t, boxes, [384, 216], settings));
    for (let t = 0; t < boxes.length; t++) {
      const q = placed(boxes[t], ps[t]);
      expect(q.top, `frame ${t}`).toBeGreaterThanOrEqual(settings.margin - 0.01);
      expect(q.left).toBeGreaterThanOrEqual(0);
      expect(q.right).toBeLessThanOrEqual(122);
      if (t > 0) expect(Math.abs(ps[t].s - ps[t - 1].s), `frame ${t}`).toBeLessThanOrEqual(settings.rate + 1e-9);
    }
    expect(ps[lift - settings.window - 1].s).toBeCloseTo(1, 5); // untouched well before
    expect(ps[lift - 1].s).toBeLessThan(ps[lift].s + 2 * settings.rate); // already making room...
    expect(ps[lift - 1].s).toBeLessThan(0.95);
    expect(ps[80].s).toBeLessThan(0.95); // ...and not snapping back when the arms come down
    expect(ps[95].s).toBeCloseTo(1, 5);
    // The feet stay on the floor while she shrinks.
    for (const t of [lift - 1, lift, lift + 10]) expect(placed(boxes[t], ps[t]).bottom).toBeCloseTo(200, 0);
  });

  it('--fit scales her to a share of the height; --ground puts her feet on the floor line', () => {
    const c = reframeSettings([122, 216], 24, { fit: 0.6, ground: 0.9 });
    const boxes = Array.from({ length: 48 }, () => box(170, 80, 190, 160));
    const q = placed(boxes[24], placementAt(24, boxes, [384, 216], c));
    expect(q.bottom - q.top).toBeCloseTo(0.6 * 216, 0);
    expect(q.bottom).toBeCloseTo(0.9 * 216, 0);
    expect(q.cx).toBeCloseTo(61, 0);
  });
});

describe('reframing: drawing (pure)', () => {
  it('at scale 1 it copies the frame to the rounded offset', () => {
    const src = frame(4, 4, [[1, 1, 2, 2]]);
    const out = Buffer.alloc(6 * 6 * 4);
    placeFrame(src, 0, 4, 4, { s: 1, dx: 2.4, dy: 1, feet: null }, out, 0, 6, 6);
    const alpha = (x: number, y: number) => out[(y * 6 + x) * 4 + 3];
    expect([alpha(3, 2), alpha(4, 3), alpha(2, 2), alpha(5, 2)]).toEqual([255, 255, 0, 0]);
  });
  it('scaled, the edges keep the dancer\'s colour (no dark fringe from transparent pixels)', () => {
    const src = frame(40, 40, [[10, 10, 20, 20]], [250, 250, 250]);
    const out = Buffer.alloc(40 * 40 * 4);
    placeFrame(src, 0, 40, 40, { s: 0.55, dx: 3, dy: 5.5, feet: null }, out, 0, 40, 40);
    let soft = 0;
    for (let i = 0; i < 40 * 40; i++) {
      const a = out[i * 4 + 3];
      if (a === 0) continue;
      if (a < 255) soft++;
      expect(out[i * 4]).toBeGreaterThanOrEqual(249);
    }
    expect(soft).toBeGreaterThan(0); // the edges really are interpolated
    const opaque = [...Array(1600).keys()].filter((i) => out[i * 4 + 3] > 127).length;
    expect(opaque).toBeGreaterThan(0.55 * 0.55 * 400 * 0.8);
    expect(opaque).toBeLessThan(0.55 * 0.55 * 400 * 1.25);
  });
  it('the contact shadow darkens below the feet and leaves the dancer as she is', () => {
    const out = frame(40, 40, [[15, 5, 10, 25]], [250, 250, 250]);
    const before = Buffer.from(out);
    drawContactShadow(out, 0, 40, 40, { x: 20, y: 30, width: 10 });
    expect(out[(30 * 40 + 20) * 4 + 3]).toBeGreaterThan(40);
    expect(out[(30 * 40 + 20) * 4]).toBe(0);
    expect(out.subarray((10 * 40 + 15) * 4, (10 * 40 + 25) * 4)).toEqual(before.subarray((10 * 40 + 15) * 4, (10 * 40 + 25) * 4));
  });
  it('streaming gives every frame, in order, placed as if the whole video were known', async () => {
    const w = 64;
    const h = 36;
    const n = 30;
    const frames = Array.from({ length: n }, (_, t) => frame(w, h, [[5 + t, 4, 8, 28]]));
    const chunks: Chunk[] = [0, 8, 16, 24].map((start, index) => {
      const count = Math.min(8, n - start);
      return { index, start, count, width: w, height: h, format: 'rgba', pixels: Buffer.concat(frames.slice(start, start + count)) };
    });
    async function* source() {
      yield* chunks;
    }
    const c = { ...reframeSettings([20, 36], 10, {}), shadow: false };
    const seen: Array<[number, Placement]> = [];
    const out: Chunk[] = [];
    for await (const ch of reframeChunks(source(), c, (t, p) => seen.push([t, p]))) out.push(ch);
    expect(out.map((o) => o.start)).toEqual(out.map((_, i) => out.slice(0, i).reduce((a, o) => a + o.count, 0)));
    expect(out.reduce((a, o) => a + o.count, 0)).toBe(n);
    expect(out.every((o) => o.width === 20 && o.height === 36 && o.pixels.length === o.count * 20 * 36 * 4)).toBe(true);
    const all = frames.map((f) => alphaBox(f, 0, w, h));
    expect(seen.map(([t]) => t)).toEqual([...Array(n).keys()]);
    for (const [t, p] of seen) expect(p).toEqual(placementAt(t, all, [w, h], c));
  });
  it('flags', () => {
    expect(parseCommand(['enhance', 'a.mp4', '--aspect', '9:16', '--fit', '80%', '--ground', '0.92', '--shadow'])).toMatchObject({ opts: { aspect: '9:16', fit: 0.8, ground: 0.92, shadow: true } });
    expect(() => parseCommand(['enhance', 'a.mp4', '--aspect', '3:2'])).toThrow(/--aspect must be one of 9:16, 1:1, 4:5, 16:9, source/);
    expect(() => parseCommand(['enhance', 'a.mp4', '--fit', '1.5'])).toThrow(/--fit must be a share/);
    expect(() => parseCommand(['enhance', 'a.mp4', '--aspect', '9:16', '--matting', 'none'])).toThrow(/need matting/);
  });
});

describe('enhance --aspect 9:16, end to end (the CLI, real RVM on the CPU)', () => {
  const tmp = tempDir('dancelift-reframe-');
  const work = (...p: string[]) => path.join(tmp.dir, ...p);
  let r: { output: string; width: number; height: number; exports: { mov: string } };
  let clip: string;
  beforeAll(async () => {
    // A landscape clip with one person standing right of centre (intel_one_by_one, 32–34 s).
    clip = await makeClip(tmp.dir, 'person.mp4', clips.intel, { seconds: 2, width: 192, height: 108, start: 32 });
    const run = await execa('node', [path.join(repoRoot, 'bin', 'dancelift.js'), 'enhance', clip, '--upscaler', 'ffmpeg', '--bg', 'studio', '--aspect', '9:16', '--export', 'alpha', '--json', '--out', work('out')], {
      cwd: tmp.dir,
      reject: false,
      env: { DANCELIFT_DATA_DIR: work('data'), DANCELIFT_TEMP_DIR: work('tmp'), DANCELIFT_RVM_MODEL: rvmModel, DANCELIFT_ORT_PROVIDERS: 'cpu', DANCELIFT_MAX_SHORT_SIDE: '108' },
    });
    expect(run.exitCode, run.stderr).toBe(0);
    r = JSON.parse(run.stdout.trim());
  });
  afterAll(() => tmp.remove());

  /** x-centroids of the alpha, per frame, as a share of the width. */
  async function centroids(file: string, w: number, h: number, extra: string[]): Promise<number[]> {
    const { stdout } = await execa('ffmpeg', ['-v', 'error', '-i', file, ...extra, '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1'], { encoding: 'buffer', maxBuffer: 1 << 28 });
    const out: number[] = [];
    for (let f = 0; f < stdout.length / (w * h); f++) {
      let m = 0;
      let mx = 0;
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        const a = stdout[f * w * h + y * w + x];
        m += a;
        mx += a * (x + 0.5);
      }
      out.push(mx / m / w);
    }
    return out;
  }

  it('the output is 9:16, with the dancer\'s alpha centroid within 10 % of the centre line in every frame', async () => {
    expect([r.width, r.height]).toEqual([122, 216]);
    const v = (await ffprobeJson(r.output)).streams.find((s) => s.codec_type === 'video')!;
    expect([v.width, v.height]).toEqual([122, 216]);
    expect(Math.abs(v.width! / v.height! - 9 / 16)).toBeLessThan(0.01);
    const cs = await centroids(r.exports.mov, 122, 216, ['-vf', 'alphaextract']);
    expect(cs.length).toBe(20);
    for (const [i, c] of cs.entries()) expect(Math.abs(c - 0.5), `frame ${i}: centroid at ${(c * 100).toFixed(1)} %`).toBeLessThan(0.1);
    expect(existsSync(work('tmp')) ? readdirSync(work('tmp')) : []).toEqual([]);
  });

  it('…which a plain centre crop would not give: she stands off-centre in the source', async () => {
    // The same run without --aspect, its matte seen through a centred 9:16 window.
    const plain = await execa('node', [path.join(repoRoot, 'bin', 'dancelift.js'), 'enhance', clip, '--upscaler', 'ffmpeg', '--bg', 'studio', '--export', 'alpha', '--json', '--out', work('plain')], {
      cwd: tmp.dir,
      reject: false,
      env: { DANCELIFT_DATA_DIR: work('data'), DANCELIFT_TEMP_DIR: work('tmp'), DANCELIFT_RVM_MODEL: rvmModel, DANCELIFT_ORT_PROVIDERS: 'cpu', DANCELIFT_MAX_SHORT_SIDE: '108' },
    });
    expect(plain.exitCode, plain.stderr).toBe(0);
    const cs = await centroids(path.join(work('plain'), 'person.alpha.mov'), 122, 216, ['-vf', `alphaextract,crop=122:216:${(384 - 122) / 2}:0`]);
    expect(Math.min(...cs.map((c) => Math.abs(c - 0.5)))).toBeGreaterThan(0.1);
  });
});
