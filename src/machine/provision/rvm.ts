/**
 * RVM's models from its release: `npm run setup` fetches the configured variant, the pipeline
 * fetches another on first use (ensureRvmModel), `dancelift provision --matting-model` on demand.
 * Every file is checked against its pinned sha256 before it is installed; a file without a pin is
 * never downloaded.
 */
import path from 'node:path';
import type { PipelineSettings } from '../../config/schema.js';
import { packageRoot } from '../../paths.js';
import { PipelineError } from '../../errors.js';
import { rvmFileName, type RvmPrecision, type RvmVariant } from '../rvm-variants.js';
import { locateRvmModel, toolsRvmModelPath, type Found } from '../tools.js';
import { downloadVerified, type FetchLike } from './download.js';
import { errorMessage, type ProvisionContext, type StepResult } from './types.js';

export interface RvmReleaseFile {
  file: string;
  url: string;
  /** '' when config pins no checksum for it. */
  sha256: string;
}

/** Pure: where a variant's file comes from and what it must hash to. */
export function rvmReleaseFile(config: PipelineSettings, variant: RvmVariant, precision: RvmPrecision = 'fp32'): RvmReleaseFile {
  const file = rvmFileName(variant, precision);
  const base = config.provision.rvm.releaseUrl;
  return { file, url: `${base}${base.endsWith('/') ? '' : '/'}${file}`, sha256: config.provision.rvm.sha256[file] ?? '' };
}

/** Pure: what to do by hand when the file cannot be fetched here: its name, checksum, URL and places. */
export function rvmManualFix(config: PipelineSettings, variant: RvmVariant, root = packageRoot): string {
  const { file, url, sha256 } = rvmReleaseFile(config, variant);
  const sum = sha256 ? `sha256 ${sha256}` : `no sha256 pinned in provision.rvm.sha256 — check the file yourself`;
  return (
    `download ${file} (${sum}) from ${url} where the internet is reachable, then put it at ` +
    `${toolsRvmModelPath(root, variant)} or ${path.join(config.dataDir, 'models', file)}, ` +
    `or point DANCELIFT_RVM_MODEL (matte.rvm.model) at it`
  );
}

interface FetchOptions {
  root: string;
  log: (msg: string) => void;
  fetchImpl?: FetchLike;
  signal?: AbortSignal;
}

/** Downloads the variant's fp32 file into tools/models; throws why not (no pin, network, checksum). */
async function fetchRvm(config: PipelineSettings, variant: RvmVariant, opts: FetchOptions): Promise<string> {
  const { file, url, sha256 } = rvmReleaseFile(config, variant);
  if (!sha256) throw new Error(`provision.rvm.sha256 has no checksum for ${file}, and dancelift never installs a file it cannot verify`);
  const dest = toolsRvmModelPath(opts.root, variant);
  opts.log(`fetching ${url}`);
  await downloadVerified(url, dest, sha256, { fetch: opts.fetchImpl, signal: opts.signal, stallTimeoutMs: 30_000 });
  return dest;
}

/**
 * One variant's step. `asked`: named on the command line (`provision --matting-model`), so its
 * failure fails the run; otherwise only the variant jobs get by default is required.
 */
export async function provisionRvm(config: PipelineSettings, ctx: ProvisionContext, variant: RvmVariant = config.matte.rvm.variant, asked = false): Promise<StepResult> {
  const root = ctx.root ?? packageRoot;
  const name = `RVM ${variant}`;
  const required = asked || (config.matte.engine === 'rvm' && variant === config.matte.rvm.variant);
  const before = locateRvmModel(config, root, variant);
  if (before.found) return { name, status: 'present', required, detail: `${before.found.path} (${before.found.source})` };

  if (config.matte.rvm.model) {
    // A configured model wins over tools/, so downloading another copy would not help.
    return {
      name,
      status: 'failed',
      required,
      detail: `matte.rvm.model is set to ${before.tried[0]?.path ?? config.matte.rvm.model}, which does not exist`,
      fix: `correct matte.rvm.model / DANCELIFT_RVM_MODEL, or clear it and run \`npm run setup\``,
    };
  }
  try {
    const dest = await fetchRvm(config, variant, { root, log: ctx.log, fetchImpl: ctx.fetchImpl, signal: ctx.signal });
    return { name, status: 'installed', required, detail: `${dest} (tools/), from ${rvmReleaseFile(config, variant).url}` };
  } catch (err) {
    if (ctx.signal?.aborted) throw err;
    return { name, status: 'failed', required, detail: `${rvmFileName(variant)} could not be fetched: ${errorMessage(err)}`, fix: rvmManualFix(config, variant, root) };
  }
}

/**
 * The variant's model, fetched now if no copy is found (first use of the variant that setup did not
 * fetch). Fails with MODEL_MISSING naming the file, its sha256 and where to put it; nothing partial
 * stays behind (downloadVerified renames into place only a verified file).
 */
export async function ensureRvmModel(config: PipelineSettings, variant: RvmVariant, opts: Partial<FetchOptions> = {}): Promise<Found> {
  const root = opts.root ?? packageRoot;
  const log = opts.log ?? (() => {});
  const before = locateRvmModel(config, root, variant);
  if (before.found) return before.found;
  const { file, sha256 } = rvmReleaseFile(config, variant);
  const missing = (why: string, cause?: unknown) =>
    new PipelineError(
      'MODEL_MISSING',
      `RVM ${variant} model ${file} is not here (${why}). Fix: ${rvmManualFix(config, variant, root)}`,
      { model: file, sha256, reason: why, fix: rvmManualFix(config, variant, root) },
      { cause },
    );
  if (config.matte.rvm.model) throw missing(`matte.rvm.model / DANCELIFT_RVM_MODEL points at ${before.tried[0]?.path}, which does not exist`);
  try {
    const dest = await fetchRvm(config, variant, { root, log, fetchImpl: opts.fetchImpl, signal: opts.signal });
    log(`rvm: fetched ${file} on first use`);
    return { path: dest, source: 'tools/' };
  } catch (err) {
    if (opts.signal?.aborted) throw new PipelineError('CANCELLED', 'cancelled', {}, { cause: err });
    throw missing(`the download failed: ${errorMessage(err)}`, err);
  }
}
