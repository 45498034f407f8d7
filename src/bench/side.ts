/**
 * One side of one bench run, in its own process so that its memory (with its ffmpeg and
 * realesrgan children) is measured apart from the bench's: `node dist/bench/side.js '<spec json>'`.
 * The result is the last line on stdout, after RESULT_TAG.
 */
import { enhance } from '../pipeline/index.js';
import { benchConfig, RESULT_TAG, seconds, type SideResult, type SideSpec } from './common.js';
import { runReference } from './reference.js';
import { runStagesAlone } from './stages.js';

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as SideSpec;
  const config = benchConfig(spec);
  const log = (m: string) => process.stderr.write(`[${spec.kind}] ${m}\n`);
  let result: SideResult;
  if (spec.kind === 'pipeline') {
    const r = await enhance({ input: spec.input, output: spec.output, background: spec.background, upscaler: spec.upscaler, matting: 'rvm', config, log });
    result = {
      wallS: r.stats.totalS,
      peakTempBytes: r.stats.peakTempBytes,
      stages: r.stats.stages.map((s) => ({ name: s.name, seconds: s.seconds, frames: s.frames, engine: s.engine, device: s.device, ...(s.calls ? { calls: s.calls } : {}) })),
      ...(r.stats.stages[1].fallbackFrom ? { fallbackFrom: r.stats.stages[1].fallbackFrom } : {}),
    };
  } else if (spec.kind === 'stages') {
    const t0 = performance.now();
    const stages = await runStagesAlone(config, spec, log);
    result = { wallS: seconds(t0), peakTempBytes: 0, stages };
  } else {
    const t0 = performance.now();
    const stages = await runReference(config, spec, log);
    result = { wallS: seconds(t0), peakTempBytes: 0, stages };
  }
  process.stdout.write(`\n${RESULT_TAG}${JSON.stringify(result)}\n`);
}

main().then(
  // The RVM worker thread and onnxruntime may keep handles open; the result is out, so end here.
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
