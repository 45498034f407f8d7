import { describe, expect, it } from 'vitest';
import { parseCommand, UsageError } from '../src/cli/args.js';
import { outputPathFor, cutoutPathFor } from '../src/cli/run-files.js';

describe('parseCommand', () => {
  it('parses enhance with every option', () => {
    expect(parseCommand(['enhance', 'a.mp4', 'clips/', '--bg', 'sunset', '--scale', '4', '--upscaler', 'ffmpeg', '--matting', 'none', '--out', 'o', '--keep-cutout', '--json'])).toEqual({
      kind: 'enhance',
      inputs: ['a.mp4', 'clips/'],
      opts: { out: 'o', json: true, bg: 'sunset', lang: undefined, config: undefined, scale: 4, upscaler: 'ffmpeg', matting: 'none', keepCutout: true },
    });
  });
  it('accepts --upscaler onnx (Real-ESRGAN in onnxruntime) and lists it in the error for a wrong name', () => {
    expect(parseCommand(['enhance', 'a.mp4', '--upscaler', 'onnx'])).toMatchObject({ kind: 'enhance', opts: { upscaler: 'onnx' } });
    expect(parseCommand(['submit', 'a.mp4', '--upscaler', 'onnx'])).toMatchObject({ kind: 'submit', opts: { upscaler: 'onnx' } });
    expect(() => parseCommand(['enhance', 'a.mp4', '--upscaler', 'onxx'])).toThrow('--upscaler must be one of realesrgan, onnx, ffmpeg, none (got "onxx")');
  });
  it('--matting-model picks the RVM network per job, and provision can fetch one by name', () => {
    expect(parseCommand(['enhance', 'a.mp4', '--matting-model', 'resnet50'])).toMatchObject({ kind: 'enhance', opts: { mattingModel: 'resnet50' } });
    expect(parseCommand(['submit', 'a.mp4', '--matting-model', 'mobilenetv3'])).toMatchObject({ kind: 'submit', opts: { mattingModel: 'mobilenetv3' } });
    expect(parseCommand(['enhance', 'a.mp4'])).toMatchObject({ opts: { mattingModel: undefined } });
    expect(parseCommand(['provision', '--matting-model', 'resnet50'])).toEqual({ kind: 'provision', mattingModel: 'resnet50' });
    expect(parseCommand(['provision'])).toEqual({ kind: 'provision', mattingModel: undefined });
    expect(() => parseCommand(['enhance', 'a.mp4', '--matting-model', 'resnet101'])).toThrow('--matting-model must be one of mobilenetv3, resnet50 (got "resnet101")');
    expect(() => parseCommand(['provision', '--matting-model', 'big'])).toThrow(UsageError);
  });
  it('takes --model general|anime (enhance and submit) and --edges unmix|fusion|off', () => {
    expect(parseCommand(['enhance', 'a.mp4', '--model', 'general', '--edges', 'off'])).toMatchObject({ opts: { model: 'general', edges: 'off' } });
    expect(parseCommand(['submit', 'a.mp4', '--model', 'anime'])).toMatchObject({ kind: 'submit', opts: { model: 'anime' } });
    expect(() => parseCommand(['enhance', 'a.mp4', '--model', 'photo'])).toThrow('--model must be one of general, anime (got "photo")');
    expect(() => parseCommand(['enhance', 'a.mp4', '--edges', 'soft'])).toThrow('--edges must be one of unmix, fusion, off');
  });
  it('submit takes the preview, reframing and transparent-export flags as enhance does, with the same checks', () => {
    const argv = ['a.mp4', '--preview', '3', '--aspect', '9:16', '--fit', '80%', '--ground', '0.9', '--shadow', '--export', 'alpha', '--wait'];
    expect(parseCommand(['submit', ...argv])).toMatchObject({ kind: 'submit', file: 'a.mp4', opts: { preview: 3, aspect: '9:16', fit: 0.8, ground: 0.9, shadow: true, export: 'alpha', wait: true } });
    expect(parseCommand(['enhance', ...argv.slice(0, -1)])).toMatchObject({ kind: 'enhance', opts: { preview: 3, aspect: '9:16', fit: 0.8, ground: 0.9, shadow: true, export: 'alpha' } });
    expect(() => parseCommand(['submit', 'a.mp4', '--export', 'alpha', '--matting', 'none'])).toThrow('--export alpha needs matting');
    expect(() => parseCommand(['submit', 'a.mp4', '--aspect', '2:3'])).toThrow('--aspect must be one of');
    expect(() => parseCommand(['submit', 'a.mp4', '--preview', '0'])).toThrow('--preview must be seconds');
  });
  it('defaults the output folder and leaves engines to the config', () => {
    const cmd = parseCommand(['enhance', 'a.mp4']);
    expect(cmd).toMatchObject({ kind: 'enhance', opts: { out: 'out', json: false, keepCutout: false, scale: undefined, upscaler: undefined } });
  });
  it.each([
    [['enhance'], /at least one video/],
    [['enhance', 'a.mp4', '--scale', '5'], /--scale must be one of 1, 2, 3, 4/],
    [['enhance', 'a.mp4', '--upscaler', 'magic'], /--upscaler must be one of/],
    [['enhance', 'a.mp4', '--frobnicate'], /frobnicate/],
    [['recompose', 'x.cutout.mkv'], /needs --bg/],
    [['dance'], /unknown command "dance"/],
  ])('refuses %j', (argv, msg) => {
    expect(() => parseCommand(argv)).toThrow(UsageError);
    expect(() => parseCommand(argv)).toThrow(msg);
  });
  it('parses recompose, doctor and help', () => {
    expect(parseCommand(['recompose', 'x.cutout.mkv', '--bg', '#00ff00'])).toMatchObject({ kind: 'recompose', cutouts: ['x.cutout.mkv'], opts: { bg: '#00ff00' } });
    expect(parseCommand(['doctor', '--json'])).toEqual({ kind: 'doctor', json: true });
    expect(parseCommand([])).toEqual({ kind: 'help', topic: undefined });
  });
});

describe('output names', () => {
  it('derives outputs from the input name', () => {
    expect(outputPathFor('clips/My Dance.mov', 'out')).toBe('out/My Dance.enhanced.mp4');
    expect(cutoutPathFor('clips/My Dance.mov', 'out')).toBe('out/My Dance.cutout.mkv');
    expect(outputPathFor('out/My Dance.cutout.mkv', 'out', 'sunset')).toBe('out/My Dance.sunset.mp4');
  });
});
