/**
 * `--export alpha`: the upscaled, matted dancer with its alpha, for video editors (CapCut,
 * Premiere, DaVinci): a WebM (VP9 with alpha, yuva420p — what browsers and CapCut read) and a MOV
 * (ProRes 4444 with a 16-bit alpha — what Premiere and DaVinci expect). One ffmpeg writes both from
 * the same RGBA frames the composer gets, while the composer runs: no second pass, no extra decode,
 * no generational loss.
 */
import { execa, type ResultPromise } from 'execa';
import { drainedOrClosed } from './compose.js';
import { PipelineError } from '../errors.js';
import { FFMPEG, ffmpegBin, fileUrl, INPUT_GUARDS } from '../media/ffmpeg.js';
import type { Chunk } from './types.js';

export interface AlphaExportPlan {
  width: number;
  height: number;
  fpsRational: string;
  /** The user's original file, read only for its audio. */
  audioFrom: { file: string } | null;
  webm: string;
  mov: string;
}

/** Pure: "out/clip.enhanced.mp4" → the two transparent files beside it ("out/clip.alpha.webm", ".mov"). */
export function alphaExportPaths(output: string): { webm: string; mov: string } {
  const stem = output.replace(/\.enhanced\.mp4$/i, '').replace(/\.[^./\\]+$/, '');
  return { webm: `${stem}.alpha.webm`, mov: `${stem}.alpha.mov` };
}

/**
 * RGB → Y'CbCr with the BT.709 matrix, tagged as such: untagged HD is read as BT.709 by players and
 * editors, so converting with swscale's default (BT.601) would shift the colours.
 */
const BT709 = ['-colorspace', 'bt709', '-color_primaries', 'bt709', '-color_trc', 'bt709', '-color_range', 'tv'];
const toYuv = (fmt: string) => `scale=out_color_matrix=bt709:out_range=tv,format=${fmt}`;

/**
 * Pure: the ffmpeg arguments. VP9 carries alpha only from libvpx (`-auto-alt-ref 0` is required
 * with alpha by older libvpx); ProRes 4444 with alpha is prores_ks's `-profile:v 4444` on a yuva
 * format. Audio is padded, not cut (`apad` + `-shortest`): the video decides the length, and the
 * frames' pipe is never abandoned when the audio is shorter.
 */
export function alphaExportArgs(p: AlphaExportPlan): string[] {
  const args = ['-v', 'error', '-nostdin', '-y', '-f', 'rawvideo', '-pix_fmt', 'rgba', '-s', `${p.width}x${p.height}`, '-framerate', p.fpsRational, '-i', 'pipe:0'];
  if (p.audioFrom) args.push(...INPUT_GUARDS, '-vn', '-i', fileUrl(p.audioFrom.file));
  args.push('-filter_complex', `[0:v]split=2[w][m];[w]${toYuv('yuva420p')}[webm];[m]${toYuv('yuva444p10le')}[mov]`);
  const audio = (codec: string[]) => (p.audioFrom ? ['-map', '1:a:0?', ...codec, '-af', 'apad', '-shortest'] : []);
  args.push(
    '-map', '[webm]', ...audio(['-c:a', 'libopus', '-b:a', '160k']),
    '-c:v', 'libvpx-vp9', '-pix_fmt', 'yuva420p', '-auto-alt-ref', '0', '-b:v', '0', '-crf', '24', '-row-mt', '1', '-deadline', 'good', '-cpu-used', '4',
    ...BT709, '-f', 'webm', fileUrl(p.webm),
  );
  args.push(
    '-map', '[mov]', ...audio(['-c:a', 'pcm_s16le']),
    '-c:v', 'prores_ks', '-profile:v', '4444', '-pix_fmt', 'yuva444p10le', '-alpha_bits', '16', '-vendor', 'apl0',
    ...BT709, '-f', 'mov', fileUrl(p.mov),
  );
  return args;
}

/**
 * Passes the chunks through unchanged, writing each one to the export's ffmpeg first (started with
 * the first chunk). When the source ends, the export is finished and checked; if the source fails,
 * the export's ffmpeg is killed. The caller removes partial files.
 */
export async function* tapAlphaExport(source: AsyncIterable<Chunk>, plan: AlphaExportPlan, signal: AbortSignal, ffmpeg = ffmpegBin()): AsyncGenerator<Chunk> {
  let child: ResultPromise<{ stdin: 'pipe'; stdout: 'ignore'; reject: false; cancelSignal: AbortSignal }> | null = null;
  let broken = false;
  let ok = false;
  try {
    for await (const chunk of source) {
      if (!child) {
        child = execa(ffmpeg, alphaExportArgs(plan), { stdin: 'pipe', stdout: 'ignore', reject: false, cancelSignal: signal });
        child.stdin.on('error', () => {
          broken = true;
        });
      }
      if (!broken && !child.stdin.write(chunk.pixels)) await drainedOrClosed(child.stdin);
      yield chunk;
    }
    if (!child) return;
    child.stdin.end();
    const r = await child;
    if (r.isCanceled || signal.aborted) throw new PipelineError('CANCELLED', 'cancelled');
    if (r.exitCode !== 0 || broken) {
      const detail = String(r.stderr ?? '').trim().split('\n').slice(-3).join(' | ') || `exit ${r.exitCode}`;
      throw new PipelineError('TOOL_FAILED', `transparent export failed: ${detail}`, { tool: FFMPEG, detail });
    }
    ok = true;
  } finally {
    if (child && !ok) {
      child.kill('SIGKILL');
      await child;
    }
  }
}
