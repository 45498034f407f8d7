import { describe, expect, it } from 'vitest';
import { colourArgs, encodeColour, sourceColour, toYuvFilter } from '../src/media/colour.js';
import { lengthFilters, planLength } from '../src/pipeline/length.js';
import { composeArgs, type ComposePlan } from '../src/pipeline/compose.js';
import { decodeArgs } from '../src/pipeline/decode.js';

describe('colour (pure)', () => {
  it('reads a tagged matrix as tagged and an untagged one as players do (HD = BT.709)', () => {
    expect(sourceColour({ width: 640, height: 360, colorSpace: 'bt709' })).toEqual({ matrix: 'bt709', range: 'tv' });
    expect(sourceColour({ width: 1920, height: 1080, colorSpace: 'smpte170m', colorRange: 'pc' })).toEqual({ matrix: 'bt601', range: 'pc' });
    expect(sourceColour({ width: 1080, height: 1920 })).toMatchObject({ matrix: 'bt709' });
    expect(sourceColour({ width: 640, height: 480, colorSpace: 'unknown' })).toMatchObject({ matrix: 'bt601' });
  });

  it('encodes HD, and anything that came in as BT.709, as BT.709; SD from SD stays BT.601', () => {
    expect(encodeColour({ matrix: 'bt601', range: 'tv' }, 1280, 720)).toEqual({ matrix: 'bt709' });
    expect(encodeColour({ matrix: 'bt709', range: 'tv' }, 128, 72)).toEqual({ matrix: 'bt709' });
    expect(encodeColour({ matrix: 'bt601', range: 'tv' }, 640, 480)).toEqual({ matrix: 'bt601' });
  });

  it('tags what it converts with, all four tags', () => {
    expect(colourArgs({ matrix: 'bt709' })).toEqual(['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv']);
    expect(colourArgs({ matrix: 'bt601' }, 'v:0')).toContain('-colorspace:v:0');
    expect(toYuvFilter({ matrix: 'bt709' }, 'yuv420p')).toMatch(/out_color_matrix=bt709:out_range=tv.*format=yuv420p$/);
  });

  it('every encode of compose converts with the matrix it tags (output and cut-out)', () => {
    const plan: ComposePlan = {
      width: 1280, height: 720, fpsRational: '25', frameFormat: 'rgba', frames: 50,
      audioFrom: null, background: { kind: 'color', color: '#00ff00' } as ComposePlan['background'],
      output: '/o.mp4', cutout: '/c.mkv', colour: { matrix: 'bt709' }, encode: { codec: 'libx264', crf: 18, preset: 'veryfast' },
    };
    const args = composeArgs(plan);
    const graph = args[args.indexOf('-filter_complex') + 1];
    expect(graph.match(/out_color_matrix=bt709/g)).toHaveLength(2);
    expect(graph).not.toMatch(/format=auto/);
    expect(args.filter((a) => a.startsWith('-colorspace'))).toEqual(['-colorspace', '-colorspace:v:0']);
    expect(args).not.toContain('-shortest');
  });

  it('decodes with the input matrix and cuts at the picture length', () => {
    const args = decodeArgs('/in.mp4', { width: 64, height: 64, fps: 10, fpsRational: '10', expectedFrames: 20, colour: { matrix: 'bt709', range: 'tv' } });
    expect(args[args.indexOf('-vf') + 1]).toMatch(/^tpad=stop_mode=clone.*in_color_matrix=bt709:in_range=tv/);
    expect(args[args.indexOf('-frames:v') + 1]).toBe('20');
  });
});

describe('length (pure)', () => {
  it('pads the sound with silence when the music ends early', () => {
    expect(planLength(60, '10', 2)).toEqual({ totalS: 6, videoPadS: 0, audioPadToS: 6 });
    expect(lengthFilters(planLength(60, '10', 2), 1)).toEqual({ video: '', audio: '[1:a:0]apad=whole_dur=6.000000[apad]', audioLabel: '[apad]' });
  });
  it('holds the last frame when the picture ends early', () => {
    const l = planLength(20, '10', 6);
    expect(l).toEqual({ totalS: 6, videoPadS: 4, audioPadToS: null });
    expect(lengthFilters(l, 1).video).toBe(',tpad=stop_mode=clone:stop_duration=4.000000');
  });
  it('leaves alone what differs by less than half a frame, and a clip without sound', () => {
    expect(planLength(288, '24/1', 12.01)).toEqual({ totalS: 12.01, videoPadS: 0, audioPadToS: null });
    expect(planLength(8, '4', null)).toEqual({ totalS: 2, videoPadS: 0, audioPadToS: null });
  });
});

describe('the general model x2 / x3 (pure)', async () => {
  const { scaledParam } = await import('../src/machine/provision/general-model.js');
  const x4 = ['7767517', '4 5', 'Input in 0 1 data', 'Convolution c 1 1 data a 0=48 1=3', 'PixelShuffle p 1 1 a b 0=4', 'BinaryOp add 2 1 b data output', ''].join('\n');
  it('appends a bicubic resize by scale / 4 and counts it, as realesr-animevideov3-x2 does', () => {
    const x2 = scaledParam(x4, 2).split('\n');
    expect(x2[1]).toBe('5 6');
    expect(x2[5]).toBe('BinaryOp add 2 1 b data output_x4');
    expect(x2[6]).toBe('Interp Resize_x2 1 1 output_x4 output 0=3 1=5.000000e-01 2=5.000000e-01');
    expect(scaledParam(x4, 3)).toContain('1=7.500000e-01');
  });
  it('refuses what is not an ncnn param file', () => {
    expect(() => scaledParam('hello\n1 1\n', 2)).toThrow(/ncnn/);
  });
});
