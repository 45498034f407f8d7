/**
 * RVM's two published networks. Both share one ONNX interface (inputs src, r1i..r4i,
 * downsample_ratio; outputs fgr, pha, r1o..r4o), so the engine runs either one the same way; what
 * differs is the file, its checksum, its cost, and the width of the recurrent states, which is how a
 * loaded model tells which one it is.
 */

export const RVM_VARIANTS = ['mobilenetv3', 'resnet50'] as const;
export type RvmVariant = (typeof RVM_VARIANTS)[number];

export const RVM_PRECISIONS = ['fp32', 'fp16'] as const;
export type RvmPrecision = (typeof RVM_PRECISIONS)[number];

/** The file name in RVM's GitHub release v1.0.0, e.g. rvm_resnet50_fp32.onnx. */
export function rvmFileName(variant: RvmVariant, precision: RvmPrecision = 'fp32'): string {
  return `rvm_${variant}_${precision}.onnx`;
}

export function isRvmVariant(v: unknown): v is RvmVariant {
  return typeof v === 'string' && (RVM_VARIANTS as readonly string[]).includes(v);
}

/**
 * Channels of r1o..r4o. They follow from RVM's model/model.py, whose decoders are
 * RecurrentDecoder([16, 24, 40, 128], [80, 40, 32, 16]) for MobileNetV3 and
 * RecurrentDecoder([64, 256, 512, 256], [128, 64, 32, 16]) for ResNet-50, each ConvGRU holding half
 * its block's channels (model/decoder.py). The shared MobileNetV3 file gives 16/20/40/64 (ASSETS.md).
 */
export const RVM_STATE_CHANNELS: Record<RvmVariant, readonly [number, number, number, number]> = {
  mobilenetv3: [16, 20, 40, 64],
  resnet50: [16, 32, 64, 128],
};

/** Pure: which variant produced recurrent states with these channel counts; null for neither. */
export function identifyRvmVariant(stateChannels: readonly number[]): RvmVariant | null {
  for (const v of RVM_VARIANTS) {
    if (RVM_STATE_CHANNELS[v].every((c, i) => stateChannels[i] === c) && stateChannels.length === 4) return v;
  }
  return null;
}

/**
 * How "auto" picks downsample_ratio, per variant: the internal (downsampled) frame's long side aims
 * at `target` px and never goes below `floor` px.
 *
 * Source: RVM's documentation/inference.md, "Downsample Ratio": "Set downsample_ratio so that the
 * downsampled resolution is between 256 and 512", and inference.py's auto mode ("If None, make
 * downsampled max size be 512px"). That guide (its table: <=512x512 → 1, 1280x720 → 0.375 portrait /
 * 0.6 full body, 1920x1080 → 0.25 / 0.4, 3840x2160 → 0.125 / 0.2) is one table for both variants:
 * it varies with the shot (portrait or full body) and the resolution, not with the backbone. So the
 * two entries hold the same values today; they are separate so that a variant can be tuned on its
 * own (from a bench of both, BENCHMARKS.md) without touching the engine.
 */
export const RVM_AUTO_RATIO: Record<RvmVariant, { target: number; floor: number }> = {
  mobilenetv3: { target: 512, floor: 256 },
  resnet50: { target: 512, floor: 256 },
};

/**
 * The downsample ratio that brings the frame's long side to the variant's target (RVM works
 * internally at floor(H·r) x floor(W·r)): min(1, target / longSide), rounded to 2 decimals, never
 * below floor / longSide. With the guide's 512/256: 1280x720 → 0.4, 1920x1080 → 0.27,
 * 3840x2160 → 0.13, anything up to 512 px → 1.
 */
export function chooseDownsampleRatio(width: number, height: number, variant: RvmVariant = 'mobilenetv3'): number {
  const long = Math.max(width, height);
  if (!Number.isFinite(long) || long <= 0) throw new RangeError(`chooseDownsampleRatio: bad frame size ${width}x${height}`);
  const { target, floor } = RVM_AUTO_RATIO[variant];
  if (long <= target) return 1;
  let r = Math.round((target / long) * 100) / 100;
  // Rounding to 2 decimals must not take a huge frame below the floor (nor to 0).
  if (r * long < floor) r = Math.ceil((floor / long) * 100) / 100;
  return Math.min(1, r);
}
