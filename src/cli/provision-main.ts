/**
 * `node dist/cli/provision-main.js`: what scripts/setup runs (the CLI may not be built yet then).
 * Exit 1 when something the configured engines need could not be provided.
 */
import { loadConfig } from '../config/load.js';
import { formatProvision } from '../machine/provision/index.js';
import { provisionFp16Upscalers } from '../machine/provision/fp16.js';
import { provision } from './engines.js';
import { provisionRvmFp16 } from '../pipeline/engines/rvm-fp16.js';

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    console.error(`provision: ${err instanceof Error ? err.message : String(err)}`);
    return 2;
  }
  const report = await provision(config, { log: (msg) => console.log(`  … ${msg}`) });
  console.log(formatProvision(report));
  // fp16 copies for GPU providers: optional, so they never fail the set-up.
  for (const line of await provisionFp16Upscalers(config).catch((err: unknown) => [`fp16: ${err instanceof Error ? err.message : String(err)}`])) console.log(`  ${line}`);
  console.log(`  ${await provisionRvmFp16(config)}`);
  return report.ok ? 0 : 1;
}

process.exitCode = await main();
