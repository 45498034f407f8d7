/**
 * What the figures mean, written from the figures themselves so that BENCHMARKS.md stays true
 * whenever the bench is rerun. Pure.
 */
import { fmt, fmtBytes, GPU_OVERLAP_TARGET, TEMP_TARGET, WALL_TARGET, type BenchReport } from './report-tables.js';

/** Seconds each extra realesrgan call costs: dancelift's per-chunk upscale against one call on the whole folder. */
export function perCallOverheadS(chunkedS: number, oneCallS: number, calls: number): number {
  return calls > 1 ? (chunkedS - oneCallS) / (calls - 1) : Number.NaN;
}

/**
 * Pure: the temp-disk ratio of the same clip at a real frame rate. dancelift holds about one chunk
 * whatever the length, the reference every frame: the ratio falls as 1 / frames.
 */
export function projectedTempRatio(dlPeak: number, refPeak: number, frames: number, realFrames: number): number {
  return dlPeak / ((refPeak / frames) * realFrames);
}

function tempAtRealRate(r: BenchReport): string {
  const s = r.summary;
  const real = Math.round(s.durationS * 24);
  const projected = projectedTempRatio(s.dancelift.peakTempBytes, s.reference.peakTempBytes, s.frames, real);
  return (
    ` The target is missed here only because this input has few frames (${s.frames}, to keep the CPU-only run short): dancelift holds about one chunk ` +
    `(${r.chunkFrames} frames) whatever the length, the reference all ${s.frames}, so the ratio is about ${r.chunkFrames}/${s.frames}. ` +
    `The same ${s.durationS} s clip at 24 fps (${real} frames) gives ${fmt(projected, 3)} from these same per-frame sizes.`
  );
}

/** Published sizes of the two fp32 files (the same projects that pin their sha256s; see README). */
const RVM_FP32_BYTES = { mobilenetv3: 14_975_696, resnet50: 107_479_165 };

/**
 * Pure: what the other RVM network costs against the default one, from the matte stage alone on the
 * same frames ('matte' and 'matte-<variant>'); when only one was measured, what is known without it.
 */
export function rvmVariantsNote(alone: { name: string; seconds: number; frames: number; engine: string }[]): string {
  const base = alone.find((x) => x.name === 'matte');
  const beside = alone.find((x) => x.name.startsWith('matte-'));
  const variantOf = (engine: string) => /^rvm (mobilenetv3|resnet50)\b/.exec(engine)?.[1];
  const baseVariant = variantOf(base?.engine ?? '') ?? 'mobilenetv3';
  if (base && beside) {
    const otherVariant = beside.name.slice('matte-'.length);
    // The engine names the network it found in the file: a copy of the other one under this name
    // would time the same network twice.
    if (variantOf(beside.engine) !== otherVariant) {
      return `- **RVM ${otherVariant}:** not compared: the file found under its name is a ${variantOf(beside.engine) ?? 'unrecognised'} network (${beside.engine}).`;
    }
    const [mn, rn] = baseVariant === 'mobilenetv3' ? [base, beside] : [beside, base];
    const k = rn.seconds / mn.seconds;
    return (
      `- **RVM ResNet-50 against MobileNetV3** (matte stage alone, same ${base.frames} frames, default ${baseVariant}, ${otherVariant} beside): ` +
      `ResNet-50 ${fmt(rn.seconds)} s (${fmt(rn.frames / rn.seconds, 1)} fps), MobileNetV3 ${fmt(mn.seconds)} s (${fmt(mn.frames / mn.seconds, 1)} fps): ` +
      `ResNet-50 costs ${fmt(k)}x the matting time (${fmt((rn.seconds - mn.seconds) / rn.frames, 3)} s more per frame at this size). ` +
      `Its file is ${fmt(RVM_FP32_BYTES.resnet50 / RVM_FP32_BYTES.mobilenetv3, 1)}x larger (${fmt(RVM_FP32_BYTES.resnet50 / 1e6, 0)} MB against ${fmt(RVM_FP32_BYTES.mobilenetv3 / 1e6, 0)} MB).`
    );
  }
  const missing = baseVariant === 'mobilenetv3' ? 'resnet50' : 'mobilenetv3';
  return (
    `- **RVM ${missing}:** not measured (rvm_${missing}_fp32.onnx is not on this machine; \`dancelift provision --matting-model ${missing}\`, then rerun the bench and the ` +
    `matte stage of both is timed side by side). Known without it: the ResNet-50 file is ${fmt(RVM_FP32_BYTES.resnet50 / RVM_FP32_BYTES.mobilenetv3, 1)}x the MobileNetV3 one ` +
    `(${fmt(RVM_FP32_BYTES.resnet50 / 1e6, 0)} MB against ${fmt(RVM_FP32_BYTES.mobilenetv3 / 1e6, 0)} MB, weights to download and hold in memory), and RVM's authors call it ` +
    `"the larger variant with small performance improvements", recommending MobileNetV3 for most uses (RVM README, Download).`
  );
}

export function analyse(r: BenchReport): string[] {
  const s = r.summary;
  const find = (list: { name: string; seconds: number }[], name: string) => list.find((x) => x.name === name)?.seconds ?? Number.NaN;
  const upAlone = find(s.alone, 'upscale');
  const refUp = find(s.reference.stages, 'realesrgan');
  const calls = Math.ceil(s.frames / r.chunkFrames);
  const overhead = perCallOverheadS(upAlone, refUp, calls);
  const upShare = refUp / s.reference.wallS;
  const onnxAlone = find(s.alone, 'upscale-onnx');
  const out: string[] = [];

  out.push(
    `- **Wall time, same engines: dancelift / reference = ${fmt(s.wallRatio)}** (target ≤ ${WALL_TARGET}: ${s.wallRatio <= WALL_TARGET ? 'met' : 'missed'}). ` +
      `Run by run it was ${s.wallRatioPerRun.map((x) => fmt(x)).join(', ')}: ${r.sharedMachine ? 'other work on the machine moves it a lot. ' : ''}` +
      `The realesrgan binary is ${fmt(upShare * 100, 0)} % of the reference's time (${fmt(refUp)} s of ${fmt(s.reference.wallS)} s): on Mesa's CPU Vulkan driver it needs ` +
      `${fmt(refUp / s.frames)} s a frame and already keeps every core busy, so there is no idle CPU for the other stages to overlap with. ` +
      `What dancelift saves (no PNG folder for the whole video, no intermediate alpha video: ` +
      `${fmt(s.reference.wallS - refUp)} s of the reference's other steps) is small against that: even if every other step cost nothing and ` +
      `the upscaler lost nothing to being called per chunk, dancelift could not go below the upscaler's own time, ${fmt(upShare)} of the reference.`,
  );
  if (Number.isFinite(overhead)) {
    out.push(
      `- **Cost of calling realesrgan once per chunk:** alone, dancelift's upscale stage took ${fmt(upAlone)} s in ${calls} calls of ${r.chunkFrames} frames, ` +
        `against ${fmt(refUp)} s for one call on the whole folder: ${fmt(overhead)} s per extra call (start-up of the binary and its Vulkan pipelines, plus the per-chunk PNG round trip).`,
    );
  }
  const upPiped = find(s.dancelift.stages, 'upscale');
  if (!r.machine.gpu && upPiped > upAlone * 1.1) {
    out.push(
      `- **Overlap slows the CPU upscaler down:** inside the pipeline realesrgan was busy ${fmt(upPiped)} s against ${fmt(upAlone)} s alone (same chunks, same calls). ` +
        `With no GPU, lavapipe's worker threads, onnxruntime's (RVM, ${r.machine.cores} threads) and ffmpeg's all run on the same ${r.machine.cores} cores at once; ` +
        `the likely cause (this bench does not isolate it) is that lavapipe waits for all its threads at every dispatch, so a core taken by another stage stalls it. ` +
        `Together with the per-call cost above, this is why dancelift with the ncnn engine is slower than the reference here and its overlap efficiency is below 1.`,
    );
  }
  if (s.onnx && Number.isFinite(onnxAlone)) {
    const faster = onnxAlone < upAlone;
    out.push(
      `- **ONNX upscaler beside the ncnn engine** (same Real-ESRGAN weights in onnxruntime, ${r.machine.onnxUpscaleDevice}): upscale alone ${fmt(onnxAlone)} s (${fmt(s.frames / onnxAlone, 1)} fps) ` +
        `against ${fmt(upAlone)} s (${fmt(s.frames / upAlone, 1)} fps) for realesrgan-ncnn-vulkan; dancelift end to end with it: ${fmt(s.onnx.wallS)} s, ` +
        `${fmt(s.onnxWallRatio ?? Number.NaN)} of the reference (target ≤ ${WALL_TARGET}: ${(s.onnxWallRatio ?? Infinity) <= WALL_TARGET ? 'met' : 'missed'}). ` +
        `On this kind of device (${r.machine.gpu ? 'a GPU' : 'Vulkan on a CPU driver, no GPU'}) the faster engine is ${faster ? '`onnx`' : '`realesrgan` (ncnn)'}, ` +
        (r.machine.gpu
          ? `so that is the one to use by default here.`
          : faster
            ? 'so it is what dancelift runs by default on a machine without a GPU (`upscale.realesrgan.onCpuDriver: onnx`); on a GPU host the ncnn binary stays the default until a bench there says otherwise.'
            : 'so the ncnn binary stays the default here.'),
    );
  } else if (r.onnxSkipped) {
    out.push(`- **ONNX upscaler:** not measured (${r.onnxSkipped}).`);
  }
  out.push(rvmVariantsNote(s.alone));
  out.push(
    `- **Peak temp disk: dancelift / reference = ${fmt(s.tempDiskRatio, 3)}** (target ≤ ${TEMP_TARGET}: ${s.tempDiskRatio <= TEMP_TARGET ? 'met' : 'missed'}): ` +
      `${fmtBytes(s.dancelift.peakTempBytes)} (one chunk's PNGs) against ${fmtBytes(s.reference.peakTempBytes)} (every frame as a PNG before and after upscaling, plus the two intermediate videos).` +
      (s.short
        ? ` It does not grow with the clip: ${fmtBytes(s.short.peakTempBytes)} for ${s.short.durationS} s, ${fmtBytes(s.dancelift.peakTempBytes)} for ${s.durationS} s, whereas the reference's grows in proportion to the length.`
        : '') +
      (s.tempDiskRatio > TEMP_TARGET ? tempAtRealRate(r) : ''),
  );
  out.push(
    `- **Overlap efficiency ${fmt(s.overlapEfficiency)}** (sum of the stages alone ${fmt(s.aloneSumS)} s / pipelined wall ${fmt(s.dancelift.wallS)} s). ` +
      (r.machine.gpu
        ? `Target on a GPU: ≥ ${GPU_OVERLAP_TARGET} (${s.overlapEfficiency >= GPU_OVERLAP_TARGET ? 'met' : 'missed'}).`
        : `Reported only here: with ${r.machine.cores} cores and the upscaler on the CPU, every stage competes for the same cores, so the stages cannot run side by side; ` +
          `on a GPU the upscaler and RVM leave the CPU to decode and encode, which is where the ≥ ${GPU_OVERLAP_TARGET} target applies.`),
  );
  out.push(
    `- **Peak memory (RSS)** is the sum over the process tree (Node with its RVM worker thread, ffmpeg, realesrgan-ncnn-vulkan), sampled every 250 ms: ` +
      `dancelift ${fmtBytes(s.dancelift.peakRssBytes)}, reference ${fmtBytes(s.reference.peakRssBytes)} (its steps run one at a time).`,
  );
  return out;
}
