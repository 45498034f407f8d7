/**
 * One idempotent provisioning step for everything dancelift fetches itself: the upscaler with its
 * models, and the RVM model. Already-present tools are left alone and nothing touches the network
 * then, so setup can run offline once it has run online.
 */
import type { Config } from '../../config/schema.js';
import type { ProvisionContext, StepResult } from './types.js';
import type { RvmVariant } from '../rvm-variants.js';

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

/**
 * An engine as provisioning sees it (a registry entry fits). machine/ knows no engines: the engine
 * registry (src/pipeline/engines/registry.ts) is handed in by the caller (src/cli/engines.ts).
 */
export interface ProvisionEngine {
  provision?: (config: Config, ctx: ProvisionContext, opts: ProvisionOptions) => Promise<StepResult[]>;
}

/** Runs each engine's set-up steps, in the order given (a step may read what an earlier one installed). */
export async function provision(config: Config, ctx: ProvisionContext, engines: readonly ProvisionEngine[], opts: ProvisionOptions = {}): Promise<ProvisionReport> {
  // One after the other: the log reads in order, and the steps are quick when nothing is missing.
  const steps: StepResult[] = [];
  for (const e of engines) if (e.provision) steps.push(...(await e.provision(config, ctx, opts)));
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
