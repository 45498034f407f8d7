/**
 * Matting with Robust Video Matting (RVM) in onnxruntime-node.
 *
 * RVM is recurrent: four hidden states (r1..r4) go from each frame to the next, which is what
 * keeps hair and edges steady. The engine keeps them between chunks, so a video matted in chunks
 * gives exactly the alpha of the same video matted in one piece. Frames go through one at a time
 * (batch 1): the states of frame k are an input of frame k+1.
 *
 * MobileNetV3 and ResNet-50 share RVM's ONNX interface, so nothing here depends on which one runs:
 * the variant asked for only labels the stats until the loaded model's state widths say which one
 * it really is (rvm-variants.ts), and "auto" takes that variant's downsample rule.
 *
 * Execution providers are tried in the configured order (e.g. cuda → webgpu → cpu), each alone;
 * the first one that loads the model AND runs a tiny inference wins, and info() says which one it
 * is and why the ones before it were passed over.
 *
 * Note: onnxruntime-node's `session.run` does its work synchronously on the calling thread (it is
 * only wrapped in a setImmediate). Between frames the event loop runs again, so timers and I/O get
 * a turn every frame (tens to hundreds of ms on a CPU), but not during one.
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import ort from 'onnxruntime-node';
import { PipelineError } from '../../errors.js';
import { frameBytes, type Chunk, type EngineInfo, type MatteEngine, type StageContext } from '../types.js';
import { planarToRgba, rgb24ToPlanarFloat } from './rvm-tensor.js';
import { firstWorkingProvider, openCheckedSession, ortReason, ortSessionOptions } from './ort/providers.js';
import { chooseDownsampleRatio, identifyRvmVariant, type RvmVariant } from '../../machine/rvm-variants.js';
import { modelForProvider } from '../../machine/fp16-models.js';

export { chooseDownsampleRatio };

export interface RvmMatteOptions {
  modelPath: string;
  /** The fp16 copy made at provisioning (findRvmFp16), for GPU providers only (modelForProvider); absent: fp32 everywhere. */
  fp16ModelPath?: string;
  /** The variant the file is meant to be (from --matting-model / config); the model's shapes decide. */
  variant?: RvmVariant;
  /** Execution providers to try in order, e.g. ['cuda', 'webgpu', 'cpu']. */
  providers: string[];
  /** 'auto': chosen from the frame size by chooseDownsampleRatio; a number in (0, 1] overrides. */
  downsampleRatio: 'auto' | number;
  /** CPU provider threads; default os.availableParallelism(). */
  threads?: number;
  log?: (msg: string) => void;
}

/**
 * Providers whose outputs onnxruntime-node can leave in GPU memory ('gpu-buffer'). Only WebGPU:
 * the binding's IO binding puts a 'gpu-buffer' output in "WebGPU_Buf" memory, the one device
 * memory it knows (js/node/src/inference_session_wrap.cc; the 1.30 binary names no other), so on
 * CUDA and TensorRT the option cannot work and trying it would cost a second session (a TensorRT
 * engine build) at every start. There the states make the round trip: about 3.2 MB each way per
 * 1080p frame at ratio 0.25, some 0.5 ms over PCIe.
 */
const STATES_ON_DEVICE = ['webgpu'];

/** Pure: whether the engine first tries keeping r1o..r4o in GPU memory on this provider. */
export function rvmKeepsStatesOnDevice(provider: string): boolean {
  return STATES_ON_DEVICE.includes(provider);
}
const STATE_INPUTS = ['r1i', 'r2i', 'r3i', 'r4i'] as const;
const STATE_OUTPUTS = ['r1o', 'r2o', 'r3o', 'r4o'] as const;
const REQUIRED_INPUTS = ['src', ...STATE_INPUTS, 'downsample_ratio'];
const REQUIRED_OUTPUTS = ['fgr', 'pha', ...STATE_OUTPUTS];

/** Errors that mean the file itself is not a usable model, whatever the provider. */
function looksLikeBadModel(err: unknown): boolean {
  const msg = err instanceof Error ? err.message : String(err);
  return /protobuf|ModelProto|Load model|invalid model|No graph|model format|INVALID_GRAPH|not a valid onnx|not an RVM model/i.test(msg);
}

type Feeds = Record<string, ort.Tensor>;

function disposeTensor(t: ort.Tensor | undefined): void {
  try {
    t?.dispose();
  } catch {
    /* already gone */
  }
}

interface Candidate {
  session: ort.InferenceSession;
  provider: string;
  /** The file it runs (fp32, or the fp16 copy). */
  file: string;
  /** Channels of r1o..r4o from the smoke test: they tell the variant. */
  stateChannels: number[];
  /** States kept on the device between frames (webgpu 'gpu-buffer'). */
  statesOnDevice: boolean;
}

/** Pure: the session options for a provider; with statesOnDevice, r1o..r4o stay in GPU memory. */
export function rvmSessionOptions(provider: string, threads: number | undefined, statesOnDevice: boolean): ort.InferenceSession.SessionOptions {
  const options = ortSessionOptions(provider, threads);
  if (statesOnDevice) {
    // fgr and pha are read on the CPU every frame; the states only feed the next frame, so they
    // can stay in GPU memory and skip two copies per state per frame.
    const loc: Record<string, ort.Tensor.DataLocation> = { fgr: 'cpu', pha: 'cpu' };
    for (const name of STATE_OUTPUTS) loc[name] = 'gpu-buffer';
    options.preferredOutputLocation = loc;
  }
  return options;
}

/**
 * Two tiny frames with the states recycled: proves the provider runs this model, including the
 * way process() feeds states back, before we commit to it. Returns the states' channel counts.
 */
async function smokeTest(session: ort.InferenceSession): Promise<number[]> {
  for (const name of REQUIRED_INPUTS) {
    if (!session.inputNames.includes(name)) throw new Error(`not an RVM model: no input '${name}' (inputs: ${session.inputNames.join(', ')})`);
  }
  for (const name of REQUIRED_OUTPUTS) {
    if (!session.outputNames.includes(name)) throw new Error(`not an RVM model: no output '${name}' (outputs: ${session.outputNames.join(', ')})`);
  }
  const w = 64;
  const h = 64;
  const src = new ort.Tensor('float32', new Float32Array(3 * w * h).fill(0.5), [1, 3, h, w]);
  const ratio = new ort.Tensor('float32', new Float32Array([0.5]), [1]);
  const zero = new ort.Tensor('float32', new Float32Array(1), [1, 1, 1, 1]);
  let states: ort.Tensor[] = [zero, zero, zero, zero];
  let channels: number[] = [];
  try {
    for (let i = 0; i < 2; i++) {
      const feeds: Feeds = { src, downsample_ratio: ratio };
      STATE_INPUTS.forEach((name, k) => (feeds[name] = states[k]));
      const out = await session.run(feeds);
      const pha = out.pha as ort.Tensor;
      const fgr = out.fgr as ort.Tensor;
      if (pha.dims.join('x') !== `1x1x${h}x${w}` || fgr.dims.join('x') !== `1x3x${h}x${w}`) {
        throw new Error(`unexpected output shapes fgr ${fgr.dims.join('x')}, pha ${pha.dims.join('x')}`);
      }
      const alpha = pha.data as Float32Array;
      if (!Number.isFinite(alpha[0])) throw new Error('inference produced NaN');
      disposeTensor(pha);
      disposeTensor(fgr);
      for (const t of states) if (t !== zero) disposeTensor(t);
      states = STATE_OUTPUTS.map((name) => out[name] as ort.Tensor);
      channels = states.map((t) => Number(t.dims[1]));
    }
    return channels;
  } finally {
    for (const t of states) if (t !== zero) disposeTensor(t);
  }
}

export async function createRvmMatte(opts: RvmMatteOptions): Promise<MatteEngine> {
  const log = opts.log ?? (() => {});
  const modelPath = path.resolve(opts.modelPath);
  if (!existsSync(modelPath) || !statSync(modelPath).isFile()) {
    throw new PipelineError('MODEL_MISSING', `RVM model not found: ${modelPath} (set matte.rvm.model, or run the setup command to fetch it)`, {
      path: modelPath,
    });
  }
  if (opts.downsampleRatio !== 'auto' && !(opts.downsampleRatio > 0 && opts.downsampleRatio <= 1)) {
    throw new RangeError(`downsampleRatio must be 'auto' or a number in (0, 1], got ${opts.downsampleRatio}`);
  }
  const providers = opts.providers.length > 0 ? opts.providers : ['cpu'];

  let badModel: unknown;
  const open = async (provider: string, statesOnDevice: boolean, file = modelPath): Promise<Candidate> => {
    const t0 = performance.now();
    try {
      let stateChannels: number[] = [];
      const session = await openCheckedSession(file, rvmSessionOptions(provider, opts.threads, statesOnDevice), async (s) => {
        stateChannels = await smokeTest(s);
      });
      const fp16 = file === modelPath ? '' : ' fp16';
      log(`rvm: using onnxruntime ${provider}${fp16}${statesOnDevice ? ' (states kept on the GPU)' : ''}, ready in ${Math.round(performance.now() - t0)} ms`);
      return { session, provider, file, statesOnDevice, stateChannels };
    } catch (err) {
      if (looksLikeBadModel(err)) badModel ??= err;
      throw err;
    }
  };
  const { chosen, failures } = await firstWorkingProvider({
    providers,
    label: 'rvm',
    reason: ortReason,
    log,
    async attempt(provider) {
      // On a GPU provider: the fp16 copy before fp32, and for each the recurrent state kept on the
      // GPU before the plain provider. The last try's error is the provider's.
      const { file, precision } = modelForProvider(provider, modelPath, opts.fp16ModelPath);
      const tries: [string, boolean][] = [];
      for (const f of precision === 'fp16' ? [file, modelPath] : [modelPath]) {
        if (rvmKeepsStatesOnDevice(provider)) tries.push([f, true]);
        tries.push([f, false]);
      }
      for (const [i, [f, onDevice]] of tries.entries()) {
        try {
          return await open(provider, onDevice, f);
        } catch (err) {
          if (i === tries.length - 1) throw err;
          log(`rvm: ${provider}${f === modelPath ? '' : ' fp16'}${onDevice ? ' (states on GPU)' : ''} failed: ${ortReason(err, provider)}`);
        }
      }
      throw new Error('unreachable');
    },
  });

  if (!chosen) {
    if (badModel) {
      throw new PipelineError('MODEL_MISSING', `RVM model ${modelPath} could not be loaded: ${ortReason(badModel)}`, { path: modelPath }, { cause: badModel });
    }
    throw new PipelineError('TOOL_FAILED', `RVM could not run on any onnxruntime execution provider: ${failures.join('; ')}`, {
      providers: providers.join(','),
    });
  }

  // The file decides: a path given by DANCELIFT_RVM_MODEL may hold the other variant than asked for.
  const identified = identifyRvmVariant(chosen.stateChannels);
  const variant = identified ?? opts.variant ?? 'mobilenetv3';
  const notes = [...failures];
  if (identified && opts.variant && identified !== opts.variant) {
    notes.push(`asked for RVM ${opts.variant}, but ${path.basename(modelPath)} is ${identified}`);
    log(`rvm: ${notes.at(-1)}`);
  }
  const info: EngineInfo = {
    engine: `rvm ${variant}${identified ? '' : ' (unrecognised states ' + chosen.stateChannels.join('/') + ')'} (onnxruntime-node)`,
    device: `onnxruntime ${chosen.provider} (${path.basename(chosen.file)})`,
  };
  if (notes.length > 0) info.fallbackFrom = notes.join('; ');
  return new RvmMatte(chosen, opts.downsampleRatio, variant, info, log);
}

class RvmMatte implements MatteEngine {
  private session: ort.InferenceSession | undefined;
  private readonly statesOnDevice: boolean;
  private readonly zero = new ort.Tensor('float32', new Float32Array(1), [1, 1, 1, 1]);
  /** Previous frame's r1o..r4o, or undefined before the first frame / after a reset. */
  private states: ort.Tensor[] | undefined;
  /** Size and ratio the states belong to, and the reusable input buffers for that size. */
  private key = '';
  private srcData = new Float32Array(0);
  private srcTensor: ort.Tensor | undefined;
  private ratioTensor: ort.Tensor | undefined;
  /** Serialises process() calls: the states make the order of frames matter. */
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(
    chosen: Candidate,
    private readonly ratioOption: 'auto' | number,
    private readonly variant: RvmVariant,
    private readonly engineInfo: EngineInfo,
    private readonly log: (msg: string) => void,
  ) {
    this.session = chosen.session;
    this.statesOnDevice = chosen.statesOnDevice;
  }

  info(): EngineInfo {
    return { ...this.engineInfo };
  }

  process(chunk: Chunk, ctx: StageContext): Promise<Chunk> {
    const run = this.tail.then(() => this.processNow(chunk, ctx));
    this.tail = run.catch(() => {});
    return run;
  }

  private resetStates(): void {
    if (this.states) for (const t of this.states) disposeTensor(t);
    this.states = undefined;
  }

  private async processNow(chunk: Chunk, ctx: StageContext): Promise<Chunk> {
    const session = this.session;
    if (this.closed || !session) throw new PipelineError('TOOL_FAILED', 'rvm matte engine used after close()');
    if (chunk.format !== 'rgb24') throw new PipelineError('TOOL_FAILED', `rvm matte expects rgb24 frames, got ${chunk.format}`);
    const { width: w, height: h, count } = chunk;
    const inBytes = frameBytes(w, h, 'rgb24');
    if (chunk.pixels.length < count * inBytes) {
      throw new PipelineError('TOOL_FAILED', `chunk ${chunk.index}: ${chunk.pixels.length} bytes for ${count} frames of ${w}x${h} rgb24`);
    }
    if (ctx.signal.aborted) throw new PipelineError('CANCELLED', 'cancelled', {}, { cause: ctx.signal.reason });

    const ratio = this.ratioOption === 'auto' ? chooseDownsampleRatio(w, h, this.variant) : this.ratioOption;
    const key = `${w}x${h}@${ratio}`;
    if (key !== this.key) {
      // New size or ratio: the old states do not fit (RVM's guidance: reset them).
      this.resetStates();
      this.key = key;
      this.srcData = new Float32Array(3 * w * h);
      disposeTensor(this.srcTensor);
      disposeTensor(this.ratioTensor);
      this.srcTensor = new ort.Tensor('float32', this.srcData, [1, 3, h, w]);
      this.ratioTensor = new ort.Tensor('float32', new Float32Array([ratio]), [1]);
      this.log(`rvm: ${w}x${h}, downsample ratio ${ratio} (internal ${Math.floor(w * ratio)}x${Math.floor(h * ratio)})`);
    } else if (chunk.start === 0 && this.states) {
      // A chunk that starts a video again: a new clip, whose first frame must not see the last one's state.
      this.resetStates();
    }

    const outBytes = frameBytes(w, h, 'rgba');
    const pixels = Buffer.allocUnsafe(count * outBytes);
    const t0 = performance.now();
    try {
      for (let f = 0; f < count; f++) {
        if (ctx.signal.aborted) throw new PipelineError('CANCELLED', 'cancelled', {}, { cause: ctx.signal.reason });
        rgb24ToPlanarFloat(chunk.pixels, f * inBytes, w, h, this.srcData);
        const prev = this.states;
        const feeds: Feeds = { src: this.srcTensor!, downsample_ratio: this.ratioTensor! };
        STATE_INPUTS.forEach((name, k) => (feeds[name] = prev ? prev[k] : this.zero));
        let out: ort.InferenceSession.OnnxValueMapType;
        try {
          out = await session.run(feeds);
        } catch (err) {
          throw new PipelineError('TOOL_FAILED', `RVM inference failed on frame ${chunk.start + f}: ${ortReason(err)}`, {}, { cause: err });
        }
        const fgr = out.fgr as ort.Tensor;
        const pha = out.pha as ort.Tensor;
        planarToRgba(fgr.data as Float32Array, pha.data as Float32Array, w, h, pixels, f * outBytes);
        disposeTensor(fgr);
        disposeTensor(pha);
        if (prev) for (const t of prev) disposeTensor(t);
        this.states = STATE_OUTPUTS.map((name) => out[name] as ort.Tensor);
      }
    } catch (err) {
      // A half-done chunk leaves the states mid-video; start clean rather than carry them on.
      this.resetStates();
      throw err;
    }
    const ms = performance.now() - t0;
    ctx.log(`rvm: chunk ${chunk.index}: ${count} frames ${w}x${h} in ${Math.round(ms)} ms (${(ms / Math.max(1, count)).toFixed(1)} ms/frame)`, {
      chunk: chunk.index,
      frames: count,
      ms: Math.round(ms),
      ratio,
      provider: this.engineInfo.device,
      statesOnDevice: this.statesOnDevice,
    });
    return { index: chunk.index, start: chunk.start, count, width: w, height: h, format: 'rgba', pixels };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.tail.catch(() => {});
    this.resetStates();
    disposeTensor(this.srcTensor);
    disposeTensor(this.ratioTensor);
    disposeTensor(this.zero);
    this.srcTensor = undefined;
    this.ratioTensor = undefined;
    const session = this.session;
    this.session = undefined;
    if (session) await session.release();
  }
}
