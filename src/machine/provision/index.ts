/**
 * One idempotent provisioning step for everything dancelift fetches itself: the upscaler with its
 * models, and the RVM model. Already-present tools are left alone and nothing touches the network
 * then, so setup can run offline once it has run online.
 */
import type { Config } from '../../config/schema.js';
import { provisionRealesrgan } from './realesrgan.js';
import { provisionRvm } from './rvm.js';
import { provisionRealesrganOnnx } from './realesrgan-onnx.js';
import { provisionGeneralModel } from './general-model.js';
import type { ProvisionContext, StepResult } from './types.js';
import type { RvmVariant } from '../../pipeline/rvm-variants.js';

export type { NpmPack, ProvisionContext, StepResult, StepStatus } from './types.js';
export { downloadVerified, DownloadError, sha256File } from './download.js';
export { npmPackWithNpm } from './realesrgan.js';
export { ensureRvmModel, rvmReleaseFile } from './rvm.js';

export interface ProvisionReport {
  steps: StepResult[];
  /** False when a step the configured engines need has failed. */
  ok: boolean;
}

export interface ProvisionOptions {
  /** The RVM variant to fetch (`provision --matting-model`); default: config matte.rvm.variant. */
  mattingModel?: RvmVariant;
}

export async function provision(config: Config, ctx: ProvisionContext, opts: ProvisionOptions = {}): Promise<ProvisionReport> {
  // One after the other: the log reads in order, and both steps are quick when nothing is missing.
  // The ONNX conversion reads the models the first step installs, so it comes after it.
  const variant = opts.mattingModel ?? config.matte.rvm.variant;
  const steps = [
    await provisionRealesrgan(config, ctx),
    await provisionRvm(config, ctx, variant, opts.mattingModel !== undefined),
    await provisionGeneralModel(config, ctx),
    await provisionRealesrganOnnx(config, ctx),
  ];
  return { steps, ok: steps.every((s) => s.status !== 'failed' || !s.required) };
}

/** Pure: one line per step, fixes indented below failures. */
export function formatProvision(report: ProvisionReport): string {
  const width = Math.max(...report.steps.map((s) => s.name.length));
  const lines: string[] = [];
  for (const s of report.steps) {
    const mark = s.status === 'failed' ? '✘' : '✔';
    const optional = s.status === 'failed' && !s.required ? ' (not needed by the configured engines)' : '';
    lines.push(`${mark} ${s.name.padEnd(width)}  ${s.status.padEnd(9)} ${s.detail}${optional}`);
    if (s.fix && s.status === 'failed') lines.push(`  ${' '.repeat(width)}  fix: ${s.fix}`);
  }
  return lines.join('\n');
}
