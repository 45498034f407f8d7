/**
 * Portrait reframing, the pure part: where the dancer goes on the new canvas, frame by frame.
 *
 * Each frame's alpha gives a box (its extent) and a body centre (the middle of the 10th–90th
 * percentile of the alpha's mass across x: an arm flung out widens the box but barely moves this).
 * The placement of frame t — scale s and offset (dx, dy), canvas = s·layer + d — is decided from
 * a window of frames around t, which is what keeps it steady:
 * - the centre is the average body centre over [t-L, t+L]: no jitter, and no lag, since the window
 *   looks ahead as far as it looks back;
 * - the scale is the wanted one (1, or `fit` of the canvas height for the average box height), but
 *   never more than what keeps every limb of frame t inside the canvas; a limb that will need room
 *   within the next L frames starts the zoom-out early, and the zoom comes back as gently after it
 *   (a limiter over ±L frames: the scale changes by at most `rate` per frame), so raising the arms
 *   never cuts them and never snaps the zoom;
 * - the feet sit on a floor line: `ground` of the canvas height, or where they were (averaged).
 * Hard limits come last: whatever the smoothing says, the box of frame t stays inside the margins.
 */

export interface AlphaBox {
  left: number;
  top: number;
  /** Exclusive. */
  right: number;
  bottom: number;
  /** Body centre along x (see above). */
  cx: number;
}

/** Alpha above this counts as dancer: RVM's soft edges and stray specks below it do not. */
const ALPHA_ON = 64;
/** A column or row needs this many dancer pixels to count, so one stray speck cannot widen the box. */
const MIN_PIXELS = 2;

/** Pure: the box and body centre of one RGBA frame at `offset` in `pixels`; null when it has no dancer. */
export function alphaBox(pixels: Uint8Array, offset: number, width: number, height: number): AlphaBox | null {
  const cols = new Uint32Array(width);
  let top = -1;
  let bottom = -1;
  for (let y = 0; y < height; y++) {
    let row = 0;
    let i = offset + y * width * 4 + 3;
    for (let x = 0; x < width; x++, i += 4) {
      if (pixels[i] > ALPHA_ON) {
        cols[x]++;
        row++;
      }
    }
    if (row >= MIN_PIXELS) {
      if (top < 0) top = y;
      bottom = y + 1;
    }
  }
  let left = -1;
  let right = -1;
  let mass = 0;
  for (let x = 0; x < width; x++) {
    if (cols[x] >= MIN_PIXELS) {
      if (left < 0) left = x;
      right = x + 1;
    }
    mass += cols[x];
  }
  if (top < 0 || left < 0 || mass === 0) return null;
  // The 10 % of the mass from each side, counted from that side, so a symmetric body is centred exactly.
  const tenth = (from: number, step: number) => {
    let acc = 0;
    for (let x = from; ; x += step) {
      acc += cols[x];
      if (acc >= mass * 0.1) return x;
    }
  };
  return { left, top, right, bottom, cx: (tenth(0, 1) + tenth(width - 1, -1) + 1) / 2 };
}

export type Aspect = '9:16' | '1:1' | '16:9' | '4:5' | 'source';
export const ASPECTS: readonly Aspect[] = ['9:16', '1:1', '4:5', '16:9', 'source'];

/**
 * Pure: the canvas for an aspect. The height stays the frame's (no resampling of the whole picture):
 * a narrower aspect crops around the dancer, a wider one extends the background. Even sides.
 */
export function canvasSize(aspect: Aspect, width: number, height: number): [number, number] {
  if (aspect === 'source') return [width, height];
  const [a, b] = aspect.split(':').map(Number);
  return [Math.max(2, Math.round((height * a) / b / 2) * 2), height];
}

export interface ReframeSettings {
  /** Canvas. */
  width: number;
  height: number;
  /** The dancer's height as a share of the canvas height (0 = keep her size). */
  fit: number;
  /** The floor line as a share of the canvas height from the top (0 = keep the feet where they are). */
  ground: number;
  /** Frames looked at on each side of a frame (smoothing and look-ahead). */
  window: number;
  /** Largest scale change per frame when making room ahead of time. */
  rate: number;
  /** Free border kept around the dancer, in canvas pixels. */
  margin: number;
}

export interface Placement {
  /** canvas = s · layer + (dx, dy) */
  s: number;
  dx: number;
  dy: number;
  /** The floor line (canvas y) and the feet's centre (canvas x), for the contact shadow; null when she has no visible feet. */
  feet: { x: number; y: number; width: number } | null;
}

/** Settings from the user's options: ±0.5 s of smoothing, at most 60 % zoom change per second. */
export function reframeSettings(canvas: [number, number], fps: number, opts: { fit?: number; ground?: number }): ReframeSettings {
  const f = Number.isFinite(fps) && fps > 0 ? fps : 25;
  return {
    width: canvas[0],
    height: canvas[1],
    fit: opts.fit ?? 0,
    ground: opts.ground ?? 0,
    window: Math.max(1, Math.round(f * 0.5)),
    rate: 0.6 / f,
    margin: Math.round(canvas[1] * 0.02),
  };
}

/**
 * Pure: the placement of frame t from the boxes known so far (`boxes[i]` null = no dancer in frame
 * i; frames past the end of the array are not known yet and simply not looked at). `layer` is the
 * size of the frames being placed.
 */
export function placementAt(t: number, boxes: ReadonlyArray<AlphaBox | null>, layer: [number, number], c: ReframeSettings): Placement {
  const [lw, lh] = layer;
  // Symmetric: as far back as ahead (fewer frames near the ends), so steady motion is centred, not led or lagged.
  const half = Math.max(0, Math.min(c.window, t, boxes.length - 1 - t));
  const lo = t - half;
  const hi = t + half;
  const near = [] as AlphaBox[];
  for (let i = lo; i <= hi; i++) if (boxes[i]) near.push(boxes[i]!);
  // Nobody in sight: the layer as it is, centred.
  if (near.length === 0) return { s: 1, dx: Math.round((c.width - lw) / 2), dy: Math.round((c.height - lh) / 2), feet: null };
  const mean = (f: (b: AlphaBox) => number) => near.reduce((a, b) => a + f(b), 0) / near.length;
  const cx = mean((b) => b.cx);
  const bottom = mean((b) => b.bottom);
  const boxH = mean((b) => b.bottom - b.top);
  const floor = c.ground > 0 ? c.ground * c.height : bottom + (c.height - lh) / 2;

  // The largest scale at which frame i's box fits between the margins and above the floor.
  const fits = (b: AlphaBox) => Math.min((c.width - 2 * c.margin) / Math.max(1, b.right - b.left), (floor - c.margin) / Math.max(1, b.bottom - b.top));
  const wanted = c.fit > 0 ? (c.fit * c.height) / Math.max(1, boxH) : 1;
  // The limiter looks the full window both ways (not only `half`): room is made before it is needed
  // and given back gently after.
  let s = wanted;
  for (let i = Math.max(0, t - c.window); i <= Math.min(boxes.length - 1, t + c.window); i++) {
    const b = boxes[i];
    if (b) s = Math.min(s, fits(b) + c.rate * Math.abs(i - t));
  }
  const own = boxes[t] ?? near[near.length - 1];
  s = Math.max(0.05, Math.min(s, fits(own)));

  let dx = c.width / 2 - s * cx;
  // Hard limits: frame t's box inside the margins (its scale guarantees that it can be).
  dx = Math.min(dx, c.width - c.margin - s * own.right);
  dx = Math.max(dx, c.margin - s * own.left);
  let dy = floor - s * bottom;
  dy = Math.max(dy, c.margin - s * own.top);
  const feetVisible = own.bottom < lh - 1;
  return {
    s,
    dx,
    dy,
    feet: feetVisible ? { x: s * cx + dx, y: s * own.bottom + dy, width: s * (own.right - own.left) } : null,
  };
}
