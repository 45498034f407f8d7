/** Puts the official RVM model into tools/models when no model is found anywhere else. */
import type { Config } from '../config/schema.js';
import { packageRoot } from '../config/load.js';
import { locateRvmModel, toolsRvmModelPath, RVM_MODEL_FILE } from '../pipeline/tools.js';
import { downloadVerified } from './download.js';
import { errorMessage, type ProvisionContext, type StepResult } from './types.js';

const STEP = 'RVM model';

export async function provisionRvm(config: Config, ctx: ProvisionContext): Promise<StepResult> {
  const root = ctx.root ?? packageRoot;
  const required = config.matte.engine === 'rvm';
  const before = locateRvmModel(config, root);
  if (before.found) return { name: STEP, status: 'present', required, detail: `${before.found.path} (${before.found.source})` };

  const manual =
    `download ${RVM_MODEL_FILE} (sha256 ${config.provision.rvm.sha256}) where the internet is reachable, ` +
    `then set matte.rvm.model in config/local.yaml or DANCELIFT_RVM_MODEL=/path/to/${RVM_MODEL_FILE}`;
  if (config.matte.rvm.model) {
    // A configured model wins over tools/, so downloading another copy would not help.
    return {
      name: STEP,
      status: 'failed',
      required,
      detail: `matte.rvm.model is set to ${before.tried[0]?.path ?? config.matte.rvm.model}, which does not exist`,
      fix: `correct matte.rvm.model / DANCELIFT_RVM_MODEL, or clear it and run \`npm run setup\``,
    };
  }

  const dest = toolsRvmModelPath(root);
  const { url, sha256 } = config.provision.rvm;
  try {
    ctx.log(`fetching ${url}`);
    await downloadVerified(url, dest, sha256, { fetch: ctx.fetchImpl, signal: ctx.signal, stallTimeoutMs: 30_000 });
    return { name: STEP, status: 'installed', required, detail: `${dest} (tools/), from ${url}` };
  } catch (err) {
    if (ctx.signal?.aborted) throw err;
    return {
      name: STEP,
      status: 'failed',
      required,
      detail: `the RVM model could not be fetched: ${errorMessage(err)}`,
      fix: manual,
    };
  }
}
