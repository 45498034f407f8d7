/**
 * Pixel conversions between packed 8-bit frames and RVM's planar float tensors. Pure and
 * allocation-free: the caller owns every buffer, so a matting loop reuses the same arrays for
 * every frame.
 */

/** v / 255 for every byte, computed once (exactly the float32 of pixel/255). */
const BYTE_TO_UNIT = (() => {
  const lut = new Float32Array(256);
  for (let i = 0; i < 256; i++) lut[i] = i / 255;
  return lut;
})();

/**
 * Packed rgb24 (one frame starting at `offset` in `src`) → planar NCHW float32 in 0..1:
 * out[0..n) = R, out[n..2n) = G, out[2n..3n) = B, with n = w*h. `out` needs at least 3*n elements.
 */
export function rgb24ToPlanarFloat(src: Uint8Array, offset: number, w: number, h: number, out: Float32Array): void {
  const n = w * h;
  if (out.length < 3 * n) throw new RangeError(`rgb24ToPlanarFloat: out holds ${out.length} floats, needs ${3 * n}`);
  if (offset < 0 || offset + 3 * n > src.length) {
    throw new RangeError(`rgb24ToPlanarFloat: frame [${offset}, ${offset + 3 * n}) is outside the source (${src.length} bytes)`);
  }
  const lut = BYTE_TO_UNIT;
  const g0 = n;
  const b0 = 2 * n;
  let s = offset;
  for (let i = 0; i < n; i++, s += 3) {
    out[i] = lut[src[s]];
    out[g0 + i] = lut[src[s + 1]];
    out[b0 + i] = lut[src[s + 2]];
  }
}

/**
 * Planar foreground (NCHW, 3 planes of w*h floats in 0..1) + alpha (1 plane) → packed rgba8
 * written into `out` at `offset`. Each value is v*255 rounded half up and clamped to 0..255;
 * NaN becomes 0.
 */
export function planarToRgba(fgr: Float32Array, pha: Float32Array, w: number, h: number, out: Uint8Array, offset: number): void {
  const n = w * h;
  if (fgr.length < 3 * n || pha.length < n) {
    throw new RangeError(`planarToRgba: got ${fgr.length} fgr / ${pha.length} pha floats for ${w}x${h}`);
  }
  if (offset < 0 || offset + 4 * n > out.length) {
    throw new RangeError(`planarToRgba: frame [${offset}, ${offset + 4 * n}) is outside the output (${out.length} bytes)`);
  }
  const g0 = n;
  const b0 = 2 * n;
  let o = offset;
  let v = 0;
  // floor(x*255 + 0.5) clamped: the clamp comes before the store because typed-array stores wrap
  // (Uint8Array) rather than saturate; NaN fails both comparisons and stores as 0.
  for (let i = 0; i < n; i++, o += 4) {
    v = fgr[i] * 255 + 0.5;
    out[o] = v < 0 ? 0 : v > 255 ? 255 : v;
    v = fgr[g0 + i] * 255 + 0.5;
    out[o + 1] = v < 0 ? 0 : v > 255 ? 255 : v;
    v = fgr[b0 + i] * 255 + 0.5;
    out[o + 2] = v < 0 ? 0 : v > 255 ? 255 : v;
    v = pha[i] * 255 + 0.5;
    out[o + 3] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
}

/** Packed rgb24 frames + one 8-bit alpha plane per frame → packed rgba8 (the command engine's output). */
export function rgb24WithAlphaToRgba(rgb: Uint8Array, rgbOffset: number, alpha: Uint8Array, alphaOffset: number, n: number, out: Uint8Array, offset: number): void {
  if (rgbOffset < 0 || rgbOffset + 3 * n > rgb.length) throw new RangeError('rgb24WithAlphaToRgba: rgb source too short');
  if (alphaOffset < 0 || alphaOffset + n > alpha.length) throw new RangeError('rgb24WithAlphaToRgba: alpha source too short');
  if (offset < 0 || offset + 4 * n > out.length) throw new RangeError('rgb24WithAlphaToRgba: output too short');
  let s = rgbOffset;
  let a = alphaOffset;
  let o = offset;
  for (let i = 0; i < n; i++, s += 3, o += 4) {
    out[o] = rgb[s];
    out[o + 1] = rgb[s + 1];
    out[o + 2] = rgb[s + 2];
    out[o + 3] = alpha[a++];
  }
}
