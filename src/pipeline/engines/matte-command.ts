/**
 * Matting by an external command the user configures (matte.command.template), e.g. the classic
 * `python inference_rvm.py --input {input} --output {output}`: per chunk, the frames are written
 * to a small lossless video, the command turns it into an alpha video, and the alpha is read back
 * and joined to the chunk's own colours.
 *
 * The template is split into arguments first and {input}/{output} are substituted inside each
 * argument afterwards, and the program is started without a shell: a path with spaces or shell
 * characters can never change the command line.
 *
 * The command runs once per chunk, so a recurrent matting tool starts from a fresh state at every
 * chunk boundary; the built-in rvm engine carries the state across chunks and should be preferred.
 */
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { PipelineError } from '../../errors.js';
import { frameBytes, type Chunk, type EngineInfo, type MatteEngine, type StageContext } from '../types.js';
import { rgb24WithAlphaToRgba } from './rvm-tensor.js';
import { ffmpegBin } from '../../media/ffmpeg.js';

const CONFIG_KEY = 'matte.command.template';

export interface CommandMatteOptions {
  template: string;
  /** ffmpeg binary used to write the input video and read the alpha video back; default the resolved ffmpeg (media/ffmpeg.ts). */
  ffmpeg?: string;
}

/**
 * Splits a command template into arguments like a POSIX shell would for plain words and quotes,
 * and nothing more: whitespace separates arguments; '...' is literal; "..." is literal except that
 * \" and \\ are escapes; outside quotes a backslash escapes a following quote, backslash or
 * whitespace and is kept as-is otherwise (so C:\tools\x.exe survives). Adjacent quoted and plain
 * parts join into one argument; "" is an empty argument. No variables, globs or pipes.
 */
export function splitTemplate(template: string): string[] {
  const args: string[] = [];
  let cur = '';
  let inArg = false;
  let i = 0;
  const n = template.length;
  while (i < n) {
    const c = template[i];
    if (c === "'") {
      const end = template.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated ' quote in command template: ${template}`);
      cur += template.slice(i + 1, end);
      inArg = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const d = template[i];
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        if (d === '\\' && i + 1 < n && (template[i + 1] === '"' || template[i + 1] === '\\')) {
          cur += template[i + 1];
          i += 2;
        } else {
          cur += d;
          i++;
        }
      }
      if (!closed) throw new Error(`unterminated " quote in command template: ${template}`);
      inArg = true;
    } else if (/\s/.test(c)) {
      if (inArg) args.push(cur);
      cur = '';
      inArg = false;
      i++;
    } else if (c === '\\' && i + 1 < n && /["'\\\s]/.test(template[i + 1])) {
      cur += template[i + 1];
      inArg = true;
      i += 2;
    } else {
      cur += c;
      inArg = true;
      i++;
    }
  }
  if (inArg) args.push(cur);
  return args;
}

/** Replaces every {input} and {output} inside each argument (a function replacer: no `$&` surprises). */
export function substituteArgs(args: string[], values: { input: string; output: string }): string[] {
  return args.map((a) => a.replaceAll('{input}', () => values.input).replaceAll('{output}', () => values.output));
}

function cancelled(signal: AbortSignal): PipelineError {
  return new PipelineError('CANCELLED', 'cancelled', {}, { cause: signal.reason });
}

function errCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } } | undefined;
  const code = e?.code ?? e?.cause?.code;
  return typeof code === 'string' ? code : undefined;
}

function tail(text: string, max = 600): string {
  const t = text.trim();
  return t.length > max ? `...${t.slice(-max)}` : t;
}

/** Keeps the last `max` characters of a stream without buffering all of it. */
function keepTail(stream: NodeJS.ReadableStream | null | undefined, max = 4000): () => string {
  let text = '';
  stream?.on('data', (d: Buffer | string) => {
    text += d.toString();
    if (text.length > 2 * max) text = text.slice(-max);
  });
  return () => text.slice(-max);
}

const killGroup = (pid: number, sig: NodeJS.Signals) => {
  try {
    process.kill(-pid, sig);
  } catch {
    /* the group is gone */
  }
};

export function createCommandMatte(opts: CommandMatteOptions): MatteEngine {
  let argv: string[];
  try {
    argv = splitTemplate(opts.template);
  } catch (err) {
    throw new PipelineError('TOOL_FAILED', `${CONFIG_KEY}: ${(err as Error).message}`, { key: CONFIG_KEY }, { cause: err });
  }
  if (argv.length === 0) throw new PipelineError('TOOL_MISSING', `${CONFIG_KEY} is empty: set it to the matting command`, { key: CONFIG_KEY, program: '' });
  if (!argv.some((a) => a.includes('{input}')) || !argv.some((a) => a.includes('{output}'))) {
    throw new PipelineError('TOOL_FAILED', `${CONFIG_KEY} must contain {input} and {output}: ${opts.template}`, { key: CONFIG_KEY });
  }
  const program = argv[0];
  const programName = path.basename(program);
  const ffmpeg = opts.ffmpeg ?? ffmpegBin();
  // A process group of its own (POSIX), so that cancelling also stops what the command started
  // itself (`conda run`, shell wrappers and Python scripts that spawn ffmpeg).
  const ownGroup = process.platform !== 'win32';

  const runFfmpeg = async (args: string[], ctx: StageContext, what: string, input?: Uint8Array, maxBuffer?: number): Promise<Buffer> => {
    try {
      const res = await execa(ffmpeg, ['-hide_banner', '-v', 'error', ...args], {
        input,
        stdin: input ? undefined : 'ignore',
        encoding: 'buffer',
        maxBuffer: maxBuffer ?? 1 << 20,
        cancelSignal: ctx.signal,
        forceKillAfterDelay: 2000,
      });
      return Buffer.from(res.stdout);
    } catch (err) {
      if (ctx.signal.aborted) throw cancelled(ctx.signal);
      if (errCode(err) === 'ENOENT') {
        throw new PipelineError('TOOL_MISSING', `ffmpeg not found (${ffmpeg}): install ffmpeg`, { program: ffmpeg }, { cause: err });
      }
      const stderr = (err as { stderr?: Buffer | string }).stderr;
      throw new PipelineError('TOOL_FAILED', `ffmpeg failed to ${what}: ${tail(String(stderr ?? (err as Error).message))}`, { program: ffmpeg }, { cause: err });
    }
  };

  const runCommand = async (args: string[], ctx: StageContext): Promise<void> => {
    if (ctx.signal.aborted) throw cancelled(ctx.signal);
    const sub = execa(program, args.slice(1), {
      stdin: 'ignore',
      buffer: false,
      detached: ownGroup,
      cancelSignal: ctx.signal,
      forceKillAfterDelay: 2000,
    });
    const outTail = keepTail(sub.stdout);
    const errTail = keepTail(sub.stderr);
    const pid = sub.pid;
    let onAbort: (() => void) | undefined;
    let onExit: (() => void) | undefined;
    let forceTimer: NodeJS.Timeout | undefined;
    if (ownGroup && pid !== undefined) {
      onAbort = () => {
        killGroup(pid, 'SIGTERM');
        forceTimer = setTimeout(() => killGroup(pid, 'SIGKILL'), 2000);
        forceTimer.unref();
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      // execa's own clean-up on exit does not cover detached children: do it here.
      onExit = () => killGroup(pid, 'SIGKILL');
      process.once('exit', onExit);
    }
    try {
      await sub;
    } catch (err) {
      if (ctx.signal.aborted) throw cancelled(ctx.signal);
      const code = errCode(err);
      if (code === 'ENOENT') {
        throw new PipelineError('TOOL_MISSING', `matting command not found: ${program} (check ${CONFIG_KEY})`, { program, key: CONFIG_KEY }, { cause: err });
      }
      if (code === 'EACCES') {
        throw new PipelineError('TOOL_MISSING', `matting command cannot be run (permission denied): ${program} (check ${CONFIG_KEY})`, { program, key: CONFIG_KEY }, { cause: err });
      }
      const e = err as { exitCode?: number; signal?: string; shortMessage?: string };
      const how = e.exitCode !== undefined ? `exit code ${e.exitCode}` : e.signal ? `killed by ${e.signal}` : (e.shortMessage ?? String(err));
      const said = tail(errTail() || outTail());
      throw new PipelineError('TOOL_FAILED', `matting command ${programName} failed (${how})${said ? `: ${said}` : ''}`, { program }, { cause: err });
    } finally {
      if (onAbort) ctx.signal.removeEventListener('abort', onAbort);
      if (onExit) process.removeListener('exit', onExit);
      if (forceTimer) clearTimeout(forceTimer);
      // Whatever the command left running in its group (aborted or not) goes with it.
      if (ownGroup && pid !== undefined && ctx.signal.aborted) killGroup(pid, 'SIGKILL');
    }
  };

  const info: EngineInfo = { engine: `command: ${programName}`, device: 'external' };

  return {
    info: () => ({ ...info }),

    async process(chunk: Chunk, ctx: StageContext): Promise<Chunk> {
      if (chunk.format !== 'rgb24') throw new PipelineError('TOOL_FAILED', `command matte expects rgb24 frames, got ${chunk.format}`);
      const { width: w, height: h, count } = chunk;
      const inBytes = frameBytes(w, h, 'rgb24');
      if (chunk.pixels.length < count * inBytes) {
        throw new PipelineError('TOOL_FAILED', `chunk ${chunk.index}: ${chunk.pixels.length} bytes for ${count} frames of ${w}x${h} rgb24`);
      }
      if (ctx.signal.aborted) throw cancelled(ctx.signal);

      const dir = path.join(ctx.tempDir, `matte-cmd-${chunk.index}`);
      const inPath = path.join(dir, 'in.mp4');
      const outPath = path.join(dir, 'alpha.mp4');
      const t0 = performance.now();
      try {
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir, { recursive: true });

        // Lossless H.264 (-qp 0) in yuv444p, in .mp4: the input format matting scripts are written
        // for and tested with (RVM's inference.py reads through PyAV, others through OpenCV,
        // imageio or decord: all libavcodec, all read H.264 in MP4, which FFV1/.mkv is not for
        // every build or script that checks the extension). yuv444p keeps full colour resolution
        // at the subject's edges, which 4:2:0 would smear; it is tagged BT.601 limited range,
        // which is what swscale converts with and what untagged readers assume. The frame rate is
        // nominal: the tool only needs the frames in order.
        await runFfmpeg(
          [
            '-nostdin', '-y',
            '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-s', `${w}x${h}`, '-r', '25', '-i', 'pipe:0',
            '-an', '-c:v', 'libx264', '-preset', 'ultrafast', '-qp', '0', '-pix_fmt', 'yuv444p',
            '-color_range', 'tv', '-colorspace', 'smpte170m', '-color_primaries', 'smpte170m', '-color_trc', 'smpte170m',
            `file:${inPath}`,
          ],
          ctx,
          'write the matting input',
          chunk.pixels.subarray(0, count * inBytes),
        );

        await runCommand(substituteArgs(argv, { input: inPath, output: outPath }), ctx);
        if (ctx.signal.aborted) throw cancelled(ctx.signal);
        if (!existsSync(outPath)) {
          throw new PipelineError('TOOL_FAILED', `matting command ${programName} did not write its output ({output} = ${outPath})`, { program });
        }

        // The alpha as 8-bit luma at the chunk's size (limited-range video is expanded to 0..255).
        const plane = w * h;
        const alpha = await runFfmpeg(
          [
            '-nostdin', '-i', `file:${outPath}`, '-an', '-frames:v', String(count),
            '-vf', `scale=${w}:${h}:flags=bicubic,format=gray`, '-f', 'rawvideo', '-pix_fmt', 'gray', 'pipe:1',
          ],
          ctx,
          'read the alpha video back',
          undefined,
          count * plane + 4096,
        );
        const got = Math.floor(alpha.length / plane);
        if (got === 0) {
          throw new PipelineError('TOOL_FAILED', `matting command ${programName} wrote no frames to ${path.basename(outPath)}`, { program });
        }
        if (got !== count) ctx.log(`command matte: chunk ${chunk.index}: ${got} alpha frames for ${count} input frames; the last one is repeated`, { chunk: chunk.index, got, count });

        const outFrame = frameBytes(w, h, 'rgba');
        const pixels = Buffer.allocUnsafe(count * outFrame);
        for (let f = 0; f < count; f++) {
          const a = Math.min(f, got - 1);
          rgb24WithAlphaToRgba(chunk.pixels, f * inBytes, alpha, a * plane, plane, pixels, f * outFrame);
        }
        const ms = performance.now() - t0;
        ctx.log(`command matte: chunk ${chunk.index}: ${count} frames ${w}x${h} in ${Math.round(ms)} ms`, { chunk: chunk.index, frames: count, ms: Math.round(ms) });
        return { index: chunk.index, start: chunk.start, count, width: w, height: h, format: 'rgba', pixels };
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },

    async close(): Promise<void> {},
  };
}
