/**
 * Converts an ncnn model (.param + .bin) into an ONNX model, so that onnxruntime can run the same
 * weights realesrgan-ncnn-vulkan runs — in our own process, on frames that never leave memory.
 *
 * Only the layer types small image-to-image networks such as realesr-animevideov3 use are
 * translated (Convolution, PReLU, ReLU, PixelShuffle, Interp, BinaryOp, Split, Input); anything else
 * is refused by name rather than converted approximately. Pure: text and bytes in, bytes out.
 */
import { float16Tensor, ONNX_FLOAT16 } from './fp16.js';
import {
  floatTensor,
  model,
  node,
  graph,
  valueInfo,
  ONNX_FLOAT,
  type AttrValue,
  type Dim,
  type ProtoWriter,
} from './onnx-proto.js';
import { NcnnBinReader, NcnnFormatError, floatParam, intParam, parseNcnnParam, type NcnnLayer } from './ncnn-model.js';

/** Bump when the produced graph changes, so provisioning converts existing files again. */
export const CONVERTER_VERSION = '1';
export const OPSET = 13;

export interface ConvertOptions {
  /** Graph input and output names; the engine feeds and reads these. */
  inputName?: string;
  outputName?: string;
  /** Extra metadata_props (source checksums, scale...). */
  metadata?: Record<string, string>;
  docString?: string;
  /** fp16: weights in float16, float32 input and output kept (a Cast at each end). */
  precision?: 'fp32' | 'fp16';
}

export interface ConvertResult {
  onnx: Uint8Array;
  inputName: string;
  outputName: string;
  /** How many layers of each ncnn type were translated, e.g. { Convolution: 18, PReLU: 17, ... }. */
  layers: Record<string, number>;
  /** Weights read, for the log. */
  parameters: number;
}

const BINARY_OPS: Record<number, string> = { 0: 'Add', 1: 'Sub', 2: 'Mul', 3: 'Div', 4: 'Max', 5: 'Min', 6: 'Pow' };
const SUPPORTED = ['Input', 'Split', 'Convolution', 'ConvolutionDepthWise', 'PReLU', 'ReLU', 'PixelShuffle', 'Interp', 'BinaryOp'];

class Builder {
  nodes: ProtoWriter[] = [];
  initializers: ProtoWriter[] = [];
  parameters = 0;

  constructor(private readonly half = false) {}

  add(op: string, name: string, inputs: string[], outputs: string[], attrs?: Record<string, AttrValue>): void {
    this.nodes.push(node({ op, name, inputs, outputs, attrs }));
  }

  /** keepFloat: values ONNX wants in float32 whatever the model's precision (Resize scales). */
  weight(name: string, dims: number[], data: Float32Array, keepFloat = false): string {
    this.initializers.push(this.half && !keepFloat ? float16Tensor(name, dims, data) : floatTensor(name, dims, data));
    this.parameters += data.length;
    return name;
  }
}

function refuse(layer: NcnnLayer, why: string): never {
  throw new NcnnFormatError(`layer ${layer.type} ${layer.name}: ${why}`);
}

function convolution(b: Builder, bin: NcnnBinReader, layer: NcnnLayer, input: string, output: string): number {
  const out = intParam(layer, 0, 0);
  const kw = intParam(layer, 1, 0);
  const kh = intParam(layer, 11, kw);
  const dw = intParam(layer, 2, 1);
  const dh = intParam(layer, 12, dw);
  const sw = intParam(layer, 3, 1);
  const sh = intParam(layer, 13, sw);
  const padLeft = intParam(layer, 4, 0);
  const padRight = intParam(layer, 15, padLeft);
  const padTop = intParam(layer, 14, padLeft);
  const padBottom = intParam(layer, 16, padTop);
  const bias = intParam(layer, 5, 0);
  const size = intParam(layer, 6, 0);
  const group = layer.type === 'ConvolutionDepthWise' ? intParam(layer, 7, 1) : 1;
  if (intParam(layer, 8, 0) !== 0) refuse(layer, 'int8 convolutions are not supported');
  if (intParam(layer, 19, 0) !== 0) refuse(layer, 'dynamic weights are not supported');
  if (floatParam(layer, 18, 0) !== 0) refuse(layer, 'a non-zero pad value is not supported');
  if (Math.min(padLeft, padRight, padTop, padBottom) < 0) refuse(layer, 'automatic (SAME) padding is not supported');
  const activation = intParam(layer, 9, 0);
  if (activation !== 0 && activation !== 1) refuse(layer, `fused activation type ${activation} is not supported`);
  if (out <= 0 || kw <= 0 || kh <= 0 || group <= 0 || size <= 0 || size % (out * kw * kh) !== 0) {
    refuse(layer, `inconsistent sizes (num_output ${out}, kernel ${kw}x${kh}, weight_data_size ${size})`);
  }
  const inPerGroup = size / (out * kw * kh);

  const w = b.weight(`${layer.name}.weight`, [out, inPerGroup, kh, kw], bin.typed(size, `${layer.name} weights`));
  const inputs = [input, w];
  if (bias) inputs.push(b.weight(`${layer.name}.bias`, [out], bin.raw(out, `${layer.name} bias`)));
  const convOut = activation === 1 ? `${output}__conv` : output;
  b.add('Conv', layer.name, inputs, [convOut], {
    kernel_shape: { kind: 'ints', value: [kh, kw] },
    strides: { kind: 'ints', value: [sh, sw] },
    dilations: { kind: 'ints', value: [dh, dw] },
    pads: { kind: 'ints', value: [padTop, padLeft, padBottom, padRight] },
    group: { kind: 'int', value: group },
  });
  if (activation === 1) b.add('Relu', `${layer.name}__relu`, [convOut], [output]);
  return inPerGroup * group;
}

function interp(b: Builder, layer: NcnnLayer, input: string, output: string): void {
  const type = intParam(layer, 0, 0);
  const hs = floatParam(layer, 1, 1);
  const ws = floatParam(layer, 2, 1);
  if (intParam(layer, 3, 0) || intParam(layer, 4, 0) || intParam(layer, 5, 0)) {
    refuse(layer, 'a fixed or dynamic output size is not supported (only scale factors keep H and W dynamic)');
  }
  if (!(hs > 0 && ws > 0)) refuse(layer, `bad scale ${hs}x${ws}`);
  const align = intParam(layer, 6, 0) !== 0;
  const scales = b.weight(`${layer.name}.scales`, [4], Float32Array.from([1, 1, hs, ws]), true);
  const attrs: Record<string, AttrValue> = {};
  if (type === 1) {
    // ncnn's nearest takes source pixel floor(x / scale): ONNX asymmetric + floor, exactly.
    attrs.mode = { kind: 'string', value: 'nearest' };
    attrs.coordinate_transformation_mode = { kind: 'string', value: 'asymmetric' };
    attrs.nearest_mode = { kind: 'string', value: 'floor' };
  } else if (type === 2 || type === 3) {
    // ncnn samples at (x + 0.5) / scale - 0.5 (half pixel) and its bicubic uses A = -0.75,
    // clamping to the edge: the same as ONNX cubic without exclude_outside.
    attrs.mode = { kind: 'string', value: type === 2 ? 'linear' : 'cubic' };
    attrs.coordinate_transformation_mode = { kind: 'string', value: align ? 'align_corners' : 'half_pixel' };
    if (type === 3) attrs.cubic_coeff_a = { kind: 'float', value: -0.75 };
  } else {
    refuse(layer, `resize type ${type} is not supported`);
  }
  b.add('Resize', layer.name, [input, '', scales], [output], attrs);
}

/** Converts a text .param and its .bin into a serialised ONNX ModelProto (opset 13, float32). */
export function ncnnToOnnx(paramText: string, binBytes: Uint8Array, opts: ConvertOptions = {}): ConvertResult {
  const inputName = opts.inputName ?? 'input';
  const outputName = opts.outputName ?? 'output';
  const param = parseNcnnParam(paramText);
  const bin = new NcnnBinReader(binBytes);
  const half = opts.precision === 'fp16';
  const b = new Builder(half);

  const unsupported = [...new Set(param.layers.map((l) => l.type).filter((t) => !SUPPORTED.includes(t)))];
  if (unsupported.length > 0) throw new NcnnFormatError(`layer types not supported by the converter: ${unsupported.join(', ')} (supported: ${SUPPORTED.join(', ')})`);

  const inputs = param.layers.filter((l) => l.type === 'Input');
  if (inputs.length !== 1 || inputs[0].outputs.length !== 1) throw new NcnnFormatError(`expected exactly one Input layer with one blob, found ${inputs.length}`);
  const consumed = new Set(param.layers.flatMap((l) => l.inputs));
  const finals = param.layers.flatMap((l) => l.outputs).filter((o) => !consumed.has(o));
  if (finals.length !== 1) throw new NcnnFormatError(`expected one final output blob, found ${finals.length} (${finals.join(', ')})`);

  // ncnn blob name → ONNX value name. Split layers only fan a blob out; in ONNX a value can feed
  // any number of nodes, so their outputs are aliases of their input.
  const inner = (n: string) => (half ? `${n}__fp16` : n);
  const alias = new Map<string, string>([[inputs[0].outputs[0], inner(inputName)], [finals[0], inner(outputName)]]);
  if (half) b.add('Cast', `${inputName}__to_fp16`, [inputName], [inner(inputName)], { to: { kind: 'int', value: ONNX_FLOAT16 } });
  const nameOf = (blob: string): string => alias.get(blob) ?? blob;
  const layers: Record<string, number> = {};
  let inputChannels: number | undefined;

  for (const layer of param.layers) {
    layers[layer.type] = (layers[layer.type] ?? 0) + 1;
    const expectIO = (nIn: number, nOut: number) => {
      if (layer.inputs.length !== nIn || layer.outputs.length !== nOut) refuse(layer, `expected ${nIn} input(s) and ${nOut} output(s)`);
    };
    const inName = layer.inputs.length > 0 ? nameOf(layer.inputs[0]) : '';
    const outName = layer.outputs.length > 0 ? nameOf(layer.outputs[0]) : '';
    switch (layer.type) {
      case 'Input':
        if (intParam(layer, 2, 0) > 0) inputChannels = intParam(layer, 2, 0);
        break;
      case 'Split':
        if (layer.outputs.includes(finals[0])) refuse(layer, 'a Split cannot produce the model output');
        for (const o of layer.outputs) alias.set(o, inName);
        break;
      case 'Convolution':
      case 'ConvolutionDepthWise': {
        expectIO(1, 1);
        const cin = convolution(b, bin, layer, inName, outName);
        if (inName === inner(inputName)) inputChannels ??= cin;
        break;
      }
      case 'PReLU': {
        expectIO(1, 1);
        const n = intParam(layer, 0, 0);
        if (n <= 0) refuse(layer, `bad num_slope ${n}`);
        // Slopes per channel broadcast over H and W from shape [C, 1, 1].
        const slope = b.weight(`${layer.name}.slope`, n === 1 ? [1] : [n, 1, 1], bin.raw(n, `${layer.name} slopes`));
        b.add('PRelu', layer.name, [inName, slope], [outName]);
        break;
      }
      case 'ReLU': {
        expectIO(1, 1);
        const slope = floatParam(layer, 0, 0);
        if (slope === 0) b.add('Relu', layer.name, [inName], [outName]);
        else b.add('LeakyRelu', layer.name, [inName], [outName], { alpha: { kind: 'float', value: slope } });
        break;
      }
      case 'PixelShuffle': {
        expectIO(1, 1);
        const r = intParam(layer, 0, 1);
        const mode = intParam(layer, 1, 0);
        if (r < 1 || (mode !== 0 && mode !== 1)) refuse(layer, `bad upscale factor ${r} or mode ${mode}`);
        // ncnn mode 0 is PyTorch's pixel_shuffle, i.e. ONNX DepthToSpace CRD.
        b.add('DepthToSpace', layer.name, [inName], [outName], {
          blocksize: { kind: 'int', value: r },
          mode: { kind: 'string', value: mode === 0 ? 'CRD' : 'DCR' },
        });
        break;
      }
      case 'Interp':
        expectIO(1, 1);
        interp(b, layer, inName, outName);
        break;
      case 'BinaryOp': {
        const op = BINARY_OPS[intParam(layer, 0, 0)];
        if (!op) refuse(layer, `operation ${intParam(layer, 0, 0)} is not supported`);
        if (intParam(layer, 1, 0) !== 0) {
          expectIO(1, 1);
          const scalar = b.weight(`${layer.name}.b`, [1], Float32Array.from([floatParam(layer, 2, 0)]));
          b.add(op, layer.name, [inName, scalar], [outName]);
        } else {
          expectIO(2, 1);
          b.add(op, layer.name, [inName, nameOf(layer.inputs[1])], [outName]);
        }
        break;
      }
    }
  }
  if (half) b.add('Cast', `${outputName}__to_fp32`, [inner(outputName)], [outputName], { to: { kind: 'int', value: ONNX_FLOAT } });
  if (bin.remaining !== 0) throw new NcnnFormatError(`${bin.remaining} bytes of the .bin were not used: it does not match the .param`);

  const inDims: Dim[] = ['N', inputChannels ?? 'C', 'H', 'W'];
  const onnx = model({
    graph: graph({
      name: 'ncnn',
      nodes: b.nodes,
      initializers: b.initializers,
      inputs: [valueInfo(inputName, ONNX_FLOAT, inDims)],
      outputs: [valueInfo(outputName, ONNX_FLOAT, ['N', 'C_out', 'H_out', 'W_out'])],
    }),
    opset: OPSET,
    producerName: 'dancelift ncnn-to-onnx',
    producerVersion: CONVERTER_VERSION,
    docString: opts.docString,
    metadata: opts.metadata,
  });
  return { onnx, inputName, outputName, layers, parameters: b.parameters };
}
