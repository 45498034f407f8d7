/**
 * `node ort-probe-child.js '<job json>'`: loads onnxruntime-node in a child process of doctor and
 * tries one provider (or opens one model), so that a provider whose native library aborts takes
 * down this child, never doctor. It prints one line, `@@probe@@{...}`, which doctor parses.
 * Standalone on purpose: it imports nothing of dancelift, only the onnxruntime-node it is handed.
 */
import { createRequire } from 'node:module';

interface Job {
  /** The resolved path of onnxruntime-node (doctor's own, so both load the same copy). */
  ort: string;
  provider?: string;
  /** With provider: a tiny model (base64) computing y = Relu(x + x). */
  tiny?: string;
  /** Without provider: a model file to open on the CPU, reporting its input and output names. */
  model?: string;
}

type Ort = typeof import('onnxruntime-node');

const say = (o: object): void => void process.stdout.write(`\n@@probe@@${JSON.stringify(o)}\n`);
const message = (e: unknown) => String((e as Error)?.message ?? e);

async function main(job: Job): Promise<void> {
  let ort: Ort;
  try {
    ort = createRequire(import.meta.url)(job.ort) as Ort;
  } catch (e) {
    return say({ ok: false, error: `cannot load onnxruntime-node: ${message(e)}` });
  }
  const t0 = Date.now();
  try {
    if (job.provider) {
      const s = await ort.InferenceSession.create(Buffer.from(job.tiny ?? '', 'base64'), { executionProviders: [job.provider], logSeverityLevel: 4 });
      const r = await s.run({ x: new ort.Tensor('float32', Float32Array.from([1, -2, 3, -4]), [1, 4]) });
      const y = Array.from(r.y.data as Float32Array);
      await s.release();
      if (y.join() !== '2,0,6,0') return say({ ok: false, error: `wrong result ${y.join()}`, ms: Date.now() - t0 });
      return say({ ok: true, ms: Date.now() - t0 });
    }
    const s = await ort.InferenceSession.create(job.model ?? '', { executionProviders: ['cpu'], logSeverityLevel: 4 });
    say({ ok: true, ms: Date.now() - t0, inputs: s.inputNames, outputs: s.outputNames });
    await s.release();
  } catch (e) {
    say({ ok: false, error: message(e), ms: Date.now() - t0 });
  }
}

await main(JSON.parse(process.argv[2] ?? '{}') as Job);
