/** The H.264 encoder choice: pure decision, ffmpeg's encoder list, and auto on this machine. */
import { describe, expect, it } from 'vitest';
import { ffmpegNvencEncoders, noteEncoderFailure, parseNvencEncoders, pickEncoder, resetEncoderChoice, resolveEncode } from '../src/pipeline/encoder.js';
import { nvidiaGpus } from '../src/machine/nvidia.js';

const facts = { nvidiaGpu: true, ffmpegHasNvenc: true, probe: { ok: true, detail: 'ok' }, failedBefore: null };

describe('pickEncoder (pure)', () => {
  it('takes NVENC only with a GPU, the encoder in ffmpeg and a probe that worked', () => {
    expect(pickEncoder('auto', facts)).toEqual({ codec: 'h264_nvenc' });
    expect(pickEncoder('auto', { ...facts, nvidiaGpu: false })).toEqual({ codec: 'libx264' });
    expect(pickEncoder('auto', { ...facts, ffmpegHasNvenc: false })).toEqual({ codec: 'libx264', fallbackFrom: 'ffmpeg has no h264_nvenc' });
    expect(pickEncoder('auto', { ...facts, probe: { ok: false, detail: 'No capable devices found' } })).toEqual({
      codec: 'libx264',
      fallbackFrom: 'h264_nvenc failed its probe encode: No capable devices found',
    });
  });

  it('falls back to libx264 for good after the first real failure', () => {
    expect(pickEncoder('auto', { ...facts, failedBefore: 'OpenEncodeSessionEx failed' }).codec).toBe('libx264');
  });

  it('leaves an explicit choice alone', () => {
    expect(pickEncoder('h264_nvenc', { ...facts, nvidiaGpu: false })).toEqual({ codec: 'h264_nvenc' });
    expect(pickEncoder('libx264', facts)).toEqual({ codec: 'libx264' });
  });

  it("reads the NVIDIA encoders from ffmpeg's list", () => {
    const out = ' V....D libx264              libx264 H.264 / AVC\n V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)\n V....D hevc_nvenc           NVIDIA NVENC hevc encoder\n A....D aac                  AAC';
    expect(parseNvencEncoders(out)).toEqual(['h264_nvenc', 'hevc_nvenc']);
    expect(parseNvencEncoders(' V....D libx264  x')).toEqual([]);
  });
});

describe('resolveEncode on this machine (real nvidia-smi / ffmpeg)', () => {
  it('auto gives a concrete codec; without an NVIDIA GPU it is libx264 with no probe', async () => {
    resetEncoderChoice();
    const gpu = await nvidiaGpus();
    const e = await resolveEncode({ codec: 'auto', crf: 18, preset: 'veryfast' });
    expect(['libx264', 'h264_nvenc']).toContain(e.codec);
    if (!gpu) expect(e).toEqual({ codec: 'libx264', crf: 18, preset: 'veryfast' });
    // ffmpeg answers the encoder list (an array, empty without NVENC builds)
    expect(Array.isArray(await ffmpegNvencEncoders())).toBe(true);
  });

  it('after an NVENC failure auto no longer picks NVENC', async () => {
    resetEncoderChoice();
    noteEncoderFailure('h264_nvenc', 'Cannot load libnvidia-encode.so.1');
    expect((await resolveEncode({ codec: 'auto', crf: 18, preset: 'veryfast' })).codec).toBe('libx264');
    resetEncoderChoice();
  });
});
