/**
 * Converts the installed realesr-animevideov3 ncnn models (x2, x3, x4) into ONNX for
 * `--upscaler onnx`. Offline and idempotent: a model is converted again only when its .onnx is
 * missing, made by another converter version, or made from other bytes — each .onnx has a .json
 * beside it with the sha256 of the .param and .bin it came from. Checksums rather than dates:
 * the models come out of archives with their 1985 timestamps, so a replaced model can look older
 * than the .onnx made from its predecessor.
 */
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Config } from '../../config/schema.js';
import { packageRoot } from '../../paths.js';
import { locateRealesrgan, toolsRealesrganDir } from '../tools.js';
import { realesrganOnnxDir, realesrganOnnxFileName } from '../onnx-upscale-models.js';
import { sha256File } from './download.js';
import { GENERAL_FAMILY } from '../upscale-models.js';
import { CONVERTER_VERSION, ncnnToOnnx } from './ncnn-to-onnx.js';
import { errorMessage, type ProvisionContext, type StepResult } from './types.js';

const STEP = 'realesrgan onnx';
export const ONNX_SCALES = [2, 3, 4] as const;

const stampSchema = z.object({
  converter: z.string(),
  param: z.object({ file: z.string(), sha256: z.string() }),
  bin: z.object({ file: z.string(), sha256: z.string() }),
});
export type ConversionStamp = z.infer<typeof stampSchema>;

/** The .json beside each converted model. */
export const stampPath = (onnxFile: string) => `${onnxFile}.json`;

async function isFile(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isFile();
  } catch {
    return false;
  }
}

async function readStamp(p: string): Promise<ConversionStamp | null> {
  try {
    return stampSchema.parse(JSON.parse(await readFile(p, 'utf8')));
  } catch {
    return null;
  }
}

/** Where the ncnn models are: beside the binary that will be used, else tools/realesrgan/models. */
export function sourceDir(config: Config, ctx: ProvisionContext, root: string): string {
  const found = locateRealesrgan(config, ctx.env ?? process.env, root).found;
  if (found) return found.modelsDir;
  const configured = config.upscale.realesrgan.modelsDir;
  return configured ? path.resolve(root, configured) : path.join(toolsRealesrganDir(root), 'models');
}

export type ConversionOutcome = 'converted' | 'up to date' | 'no source';

/** One model: converted when needed, written atomically (temp file, then rename). */
export async function convertIfNeeded(paramFile: string, binFile: string, onnxFile: string, log: (m: string) => void = () => {}): Promise<ConversionOutcome> {
  if (!(await isFile(paramFile)) || !(await isFile(binFile))) return 'no source';
  const [paramSha, binSha] = await Promise.all([sha256File(paramFile), sha256File(binFile)]);
  const stamp = await readStamp(stampPath(onnxFile));
  if (
    (await isFile(onnxFile)) &&
    stamp?.converter === CONVERTER_VERSION &&
    stamp.param.sha256 === paramSha &&
    stamp.bin.sha256 === binSha
  ) {
    return 'up to date';
  }

  const t0 = performance.now();
  const result = ncnnToOnnx(await readFile(paramFile, 'utf8'), await readFile(binFile), {
    docString: `Converted from ${path.basename(paramFile)} / ${path.basename(binFile)} (ncnn) by dancelift`,
    metadata: {
      source_param: path.basename(paramFile),
      source_param_sha256: paramSha,
      source_bin: path.basename(binFile),
      source_bin_sha256: binSha,
      converter_version: CONVERTER_VERSION,
      value_range: 'RGB 0..1 in and out (pixel / 255), NCHW',
    },
  });
  await mkdir(path.dirname(onnxFile), { recursive: true });
  const tmp = `${onnxFile}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, result.onnx);
    await rename(tmp, onnxFile);
  } finally {
    await rm(tmp, { force: true });
  }
  const stamp2: ConversionStamp = {
    converter: CONVERTER_VERSION,
    param: { file: path.basename(paramFile), sha256: paramSha },
    bin: { file: path.basename(binFile), sha256: binSha },
  };
  await writeFile(stampPath(onnxFile), `${JSON.stringify(stamp2, null, 2)}\n`);
  log(`converted ${path.basename(paramFile)} to ${path.basename(onnxFile)} (${result.parameters} weights, ${Math.round(performance.now() - t0)} ms)`);
  return 'converted';
}

export async function provisionRealesrganOnnx(config: Config, ctx: ProvisionContext): Promise<StepResult> {
  const root = ctx.root ?? packageRoot;
  const required = config.upscale.engine === 'onnx';
  const from = sourceDir(config, ctx, root);
  const to = realesrganOnnxDir(config, root);
  const done: string[] = [];
  const fresh: string[] = [];
  const missing: string[] = [];
  const have: string[] = [];
  try {
    // Both models: the anime one and the general one (when provisioned), from the same folder.
    for (const model of [config.upscale.realesrgan.model, GENERAL_FAMILY]) {
      const scales: string[] = [];
      for (const s of ONNX_SCALES) {
        const base = `${model}-x${s}`;
        const outcome = await convertIfNeeded(path.join(from, `${base}.param`), path.join(from, `${base}.bin`), path.join(to, realesrganOnnxFileName(model, s)), ctx.log);
        if (outcome === 'no source') missing.push(base);
        else {
          (outcome === 'converted' ? done : fresh).push(base);
          scales.push(`x${s}`);
        }
      }
      if (scales.length > 0) have.push(`${model} ${scales.join(', ')}`);
    }
  } catch (err) {
    return {
      name: STEP,
      status: 'failed',
      required,
      detail: `could not convert the ncnn models in ${from}: ${errorMessage(err)}`,
      fix: 'reinstall the upscaler models (remove tools/realesrgan and run `npm run setup`), or use --upscaler realesrgan',
    };
  }
  if (done.length + fresh.length === 0) {
    return {
      name: STEP,
      status: 'failed',
      required,
      detail: `no ncnn models to convert in ${from} (${missing.join(', ')} missing)`,
      fix: 'npm run setup   (installs realesrgan-ncnn-vulkan and its models first)',
    };
  }
  const lacking = missing.length > 0 ? `; ${missing.join(', ')} not available` : '';
  return {
    name: STEP,
    status: done.length > 0 ? 'installed' : 'present',
    required,
    detail: `${have.join('; ')} in ${to}${done.length > 0 ? ` (converted ${done.join(', ')})` : ''}${lacking}`,
  };
}
