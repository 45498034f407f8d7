/**
 * Edge cleaning: takes the old background's colour out of the dancer's foreground where the matte
 * is partly transparent (hair, fast arms, the rim of the body). There RVM's predicted foreground is
 * almost the source pixel, old background included, and compositing it onto a new background
 * leaves a rim of the old one (42–57 % of a saturated background, measured).
 *
 * Both methods need the old background's colour behind each edge pixel. It is estimated from the
 * pixels around it that the matte calls background, averaged on a coarse grid (cells of about
 * 1/48 of the frame's short side, blurred over 5x5 cells, interpolated bilinearly), so that the
 * whole-frame work is one pass of additions; only the edge band's pixels get per-pixel work.
 *
 * - `unmix`: solves the compositing equation for the foreground, F = (I − (1 − α)·B̄) / α.
 * - `fusion`: the blur-fusion estimate of Forte & Pitié (2021), F = F̄ + α·(I − α·F̄ − (1 − α)·B̄),
 *   with F̄ the local foreground average on the same grid.
 *
 * Pure: buffers in, the foreground of `rgba` rewritten in place.
 */

import type { Chunk, MatteEngine, StageContext } from './types.js';

export type EdgeMethod = 'unmix' | 'fusion' | 'off';

/** Alpha (0..255) from which a pixel is cleaned, and to which: outside, RVM's own output is kept. */
const BAND_LO = 5;
const BAND_HI = 250;
/** Blur radius of the background estimate, in cells. */
const RADIUS = 2;

function cellSize(w: number, h: number): number {
  return Math.min(32, Math.max(4, Math.round(Math.min(w, h) / 48)));
}

/** In-place box blur (sum over the (2r+1)² window) of `planes` grids of gw x gh. */
function boxBlur(grid: Float64Array, planes: number, gw: number, gh: number, r: number, tmp: Float64Array): void {
  for (let p = 0; p < planes; p++) {
    const base = p * gw * gh;
    for (let y = 0; y < gh; y++) {
      for (let x = 0; x < gw; x++) {
        let s = 0;
        for (let k = Math.max(0, x - r); k <= Math.min(gw - 1, x + r); k++) s += grid[base + y * gw + k];
        tmp[y * gw + x] = s;
      }
    }
    for (let x = 0; x < gw; x++) {
      for (let y = 0; y < gh; y++) {
        let s = 0;
        for (let k = Math.max(0, y - r); k <= Math.min(gh - 1, y + r); k++) s += tmp[k * gw + x];
        grid[base + y * gw + x] = s;
      }
    }
  }
}

/**
 * Cleans one frame: `src` is the frame the matte was made from (rgb24 at `srcOffset`), `rgba` the
 * matte engine's output (foreground + alpha at `offset`), rewritten in place. Returns how many
 * pixels were in the edge band.
 */
export function cleanEdges(src: Uint8Array, srcOffset: number, rgba: Uint8Array, offset: number, w: number, h: number, method: EdgeMethod): number {
  if (method === 'off') return 0;
  const S = cellSize(w, h);
  const gw = Math.ceil(w / S);
  const gh = Math.ceil(h / S);
  const cells = gw * gh;
  // Planes: background weight, background r, g, b, foreground weight, foreground r, g, b. The
  // averages are smooth by design, so every second pixel of every second row is enough: a quarter
  // of the reads, and the sums go into locals, one cell at a time.
  const grid = new Float64Array(8 * cells);
  for (let y = 0; y < h; y += 2) {
    const row = Math.floor(y / S) * gw;
    for (let cx = 0; cx < gw; cx++) {
      let wb = 0, br = 0, bg = 0, bb = 0, wf = 0, fr = 0, fg = 0, fb = 0;
      const end = Math.min(w, (cx + 1) * S);
      for (let x = cx * S; x < end; x += 2) {
        const i = y * w + x;
        const a = rgba[offset + 4 * i + 3];
        const s = srcOffset + 3 * i;
        const r = src[s];
        const g = src[s + 1];
        const b = src[s + 2];
        const na = 255 - a;
        wb += na;
        br += na * r;
        bg += na * g;
        bb += na * b;
        wf += a;
        fr += a * r;
        fg += a * g;
        fb += a * b;
      }
      const c = row + cx;
      grid[c] += wb;
      grid[cells + c] += br;
      grid[2 * cells + c] += bg;
      grid[3 * cells + c] += bb;
      grid[4 * cells + c] += wf;
      grid[5 * cells + c] += fr;
      grid[6 * cells + c] += fg;
      grid[7 * cells + c] += fb;
    }
  }
  boxBlur(grid, 8, gw, gh, RADIUS, new Float64Array(cells));
  let band = 0;

  const est = new Float64Array(8);
  for (let y = 0; y < h; y++) {
    const gy = Math.min(gh - 1, Math.max(0, (y + 0.5) / S - 0.5));
    const y0 = Math.floor(gy);
    const y1 = Math.min(gh - 1, y0 + 1);
    const fy = gy - y0;
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      const o = offset + 4 * i;
      const a8 = rgba[o + 3];
      if (a8 <= BAND_LO || a8 >= BAND_HI) continue;
      band++;
      const gx = Math.min(gw - 1, Math.max(0, (x + 0.5) / S - 0.5));
      const x0 = Math.floor(gx);
      const x1 = Math.min(gw - 1, x0 + 1);
      const fx = gx - x0;
      const w00 = (1 - fx) * (1 - fy);
      const w01 = fx * (1 - fy);
      const w10 = (1 - fx) * fy;
      const w11 = fx * fy;
      const c00 = y0 * gw + x0;
      const c01 = y0 * gw + x1;
      const c10 = y1 * gw + x0;
      const c11 = y1 * gw + x1;
      for (let p = 0; p < 8; p++) {
        const q = p * cells;
        est[p] = w00 * grid[q + c00] + w01 * grid[q + c01] + w10 * grid[q + c10] + w11 * grid[q + c11];
      }
      // No background seen nearby (deep inside the dancer): nothing to take out.
      if (est[0] <= 0) continue;
      const alpha = a8 / 255;
      const s = srcOffset + 3 * i;
      for (let ch = 0; ch < 3; ch++) {
        const I = src[s + ch];
        const B = est[1 + ch] / est[0];
        let F: number;
        if (method === 'unmix') {
          F = (I - (1 - alpha) * B) / alpha;
        } else {
          const Fm = est[4] > 0 ? est[5 + ch] / est[4] : I;
          F = Fm + alpha * (I - alpha * Fm - (1 - alpha) * B);
        }
        rgba[o + ch] = F <= 0 ? 0 : F >= 255 ? 255 : Math.round(F);
      }
    }
  }
  return band;
}

/**
 * The matte engine `inner` with its output's edges cleaned against the frames it was given. Runs
 * in the pipeline's thread, beside the engines' own threads and processes: one pass of additions
 * over the frame and a little work per edge pixel.
 */
export function withCleanEdges(inner: MatteEngine, method: EdgeMethod): MatteEngine {
  if (method === 'off') return inner;
  return {
    info: () => {
      const i = inner.info();
      return { ...i, engine: `${i.engine} + edges ${method}` };
    },
    async process(chunk: Chunk, ctx: StageContext): Promise<Chunk> {
      const out = await inner.process(chunk, ctx);
      if (out.format !== 'rgba' || chunk.format !== 'rgb24' || out.width !== chunk.width || out.height !== chunk.height) return out;
      const n = chunk.width * chunk.height;
      for (let f = 0; f < out.count; f++) cleanEdges(chunk.pixels, f * 3 * n, out.pixels, f * 4 * n, chunk.width, chunk.height, method);
      return out;
    },
    close: () => inner.close(),
  };
}
