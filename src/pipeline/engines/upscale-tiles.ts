/**
 * Tiles and pixel conversions for the ONNX upscaler. They reproduce what realesrgan-ncnn-vulkan does
 * around its network, so the two engines give the same pixels: every tile is run with `pad` extra
 * pixels of context on each side — real neighbours inside the frame, a mirror image at its edges —
 * and that margin is cut off the result. Pure and allocation-free: callers own the buffers.
 */

/** A tile's area in input pixels, without its margin. */
export interface Tile {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Row-major tiles of at most `size` px covering the frame; size 0 = the whole frame as one tile. */
export function planTiles(width: number, height: number, size: number): Tile[] {
  if (!(width > 0 && height > 0)) throw new RangeError(`planTiles: bad frame size ${width}x${height}`);
  const step = size > 0 ? size : Math.max(width, height);
  const tiles: Tile[] = [];
  for (let y = 0; y < height; y += step) {
    for (let x = 0; x < width; x += step) tiles.push({ x, y, w: Math.min(step, width - x), h: Math.min(step, height - y) });
  }
  return tiles;
}

/** ncnn's mirror at the frame edge (-1 → 1, n → n-2), clamped for frames narrower than the margin. */
export function mirror(i: number, n: number): number {
  let v = Math.abs(i);
  v = n - 1 - Math.abs(v - (n - 1));
  return v < 0 ? 0 : v >= n ? n - 1 : v;
}

const BYTE_TO_UNIT = (() => {
  const lut = new Float32Array(256);
  for (let i = 0; i < 256; i++) lut[i] = i / 255;
  return lut;
})();

/**
 * One tile of a packed rgb24 frame (starting at `offset` in `src`) plus a `pad`-pixel margin, as
 * planar NCHW float32 RGB in 0..1 (pixel / 255, what the network was trained on). `out` holds at
 * least 3 * (w + 2·pad) * (h + 2·pad) floats.
 */
export function tileToPlanar(src: Uint8Array, offset: number, width: number, height: number, tile: Tile, pad: number, out: Float32Array): void {
  const pw = tile.w + 2 * pad;
  const ph = tile.h + 2 * pad;
  const n = pw * ph;
  if (out.length < 3 * n) throw new RangeError(`tileToPlanar: out holds ${out.length} floats, needs ${3 * n}`);
  if (offset < 0 || offset + width * height * 3 > src.length) throw new RangeError('tileToPlanar: frame outside the source buffer');
  const lut = BYTE_TO_UNIT;
  // The mirrored column of every output column, computed once per tile rather than per pixel.
  const cols = new Int32Array(pw);
  for (let i = 0; i < pw; i++) cols[i] = mirror(tile.x - pad + i, width) * 3;
  let o = 0;
  for (let j = 0; j < ph; j++) {
    const row = offset + mirror(tile.y - pad + j, height) * width * 3;
    for (let i = 0; i < pw; i++, o++) {
      const s = row + cols[i];
      out[o] = lut[src[s]];
      out[n + o] = lut[src[s + 1]];
      out[2 * n + o] = lut[src[s + 2]];
    }
  }
}

/**
 * The network's output for one padded tile (planar RGB, (w+2·pad)·scale wide) without its margin,
 * written into a packed rgb24 frame of width `width`·scale at `offset`. Values become
 * floor(v·255 + 0.5) clamped to 0..255 — the binary's own rounding; NaN becomes 0.
 * One deliberate difference: the binary's 8-bit output path converts floor(v) to an unsigned int
 * before clamping, so a slightly negative value (dark pixels, x3/x4 models) comes out as 255, a
 * white speck; here it is 0.
 */
export function planarToTile(data: Float32Array, tile: Tile, pad: number, scale: number, width: number, out: Uint8Array, offset: number): void {
  const pw = (tile.w + 2 * pad) * scale;
  const ph = (tile.h + 2 * pad) * scale;
  const n = pw * ph;
  if (data.length < 3 * n) throw new RangeError(`planarToTile: got ${data.length} floats for a ${pw}x${ph} tile`);
  const outW = width * scale;
  const tw = tile.w * scale;
  const th = tile.h * scale;
  const m = pad * scale;
  if (offset < 0 || offset + ((tile.y * scale + th - 1) * outW + tile.x * scale + tw) * 3 > out.length) throw new RangeError('planarToTile: tile outside the output frame');
  let v = 0;
  for (let j = 0; j < th; j++) {
    let s = (j + m) * pw + m;
    let o = offset + ((tile.y * scale + j) * outW + tile.x * scale) * 3;
    for (let i = 0; i < tw; i++, s++, o += 3) {
      v = data[s] * 255 + 0.5;
      out[o] = v < 0 ? 0 : v > 255 ? 255 : v;
      v = data[n + s] * 255 + 0.5;
      out[o + 1] = v < 0 ? 0 : v > 255 ? 255 : v;
      v = data[2 * n + s] * 255 + 0.5;
      out[o + 2] = v < 0 ? 0 : v > 255 ? 255 : v;
    }
  }
}
