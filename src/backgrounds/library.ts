/**
 * The background library: a folder of images and videos that users pick by name (the file name
 * without its extension, case-insensitive), plus solid colours and, where allowed, any image or
 * video path. On first use a few royalty-free defaults are generated with ffmpeg's lavfi sources;
 * nothing is downloaded.
 *
 * Every file is read through ffprobe/ffmpeg with `-protocol_whitelist file`, a demuxer whitelist
 * and the `file:` prefix, so a crafted name ("http:…", "concat:a|b", a playlist) cannot make them
 * read a URL or other files.
 */
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { PipelineError } from '../errors.js';
import { FFMPEG, FFPROBE, ffmpegBin, ffprobeBin, fileUrl, VIDEO_DEMUXERS } from '../media/ffmpeg.js';

export { fileUrl };

export type Background =
  | { kind: 'color'; /** ffmpeg colour, e.g. 0x00b140 */ color: string; name: string }
  | {
      kind: 'image' | 'video';
      /** Absolute path. */
      path: string;
      name: string;
      /** The demuxer ffprobe chose (e.g. "png_pipe", "mov,mp4,m4a,3gp,3g2,mj2"); see backgroundFileInputArgs. */
      format?: string;
    };

export interface BackgroundEntry {
  name: string;
  kind: 'image' | 'video';
  path: string;
}

export interface ToolOptions {
  ffmpeg?: string;
  ffprobe?: string;
  signal?: AbortSignal;
}

/** `<config.backgrounds.dir>` or `<dataDir>/backgrounds`. */
export function backgroundsDir(config: { dataDir: string; backgrounds: { dir: string } }): string {
  return config.backgrounds.dir ? path.resolve(config.backgrounds.dir) : path.join(config.dataDir, 'backgrounds');
}

// ---------------------------------------------------------------------------------------------
// Safe input arguments

/** Demuxers of single-image files. */
const IMAGE_DEMUXERS = ['image2', 'png_pipe', 'jpeg_pipe', 'webp_pipe', 'bmp_pipe', 'tiff_pipe', 'qoi_pipe', 'ppm_pipe', 'pgm_pipe', 'pam_pipe'];
/** Demuxers of video files (no playlists, no concat lists, no network formats). */
/** The `-format_whitelist` for background files: the input videos' list plus images (and apng). */
export const BACKGROUND_DEMUXERS = [...IMAGE_DEMUXERS, VIDEO_DEMUXERS, 'apng'].join(',');
/** Image codecs we accept in image files (notably not svg: librsvg may follow external references). */
const IMAGE_CODECS = new Set(['png', 'mjpeg', 'jpegls', 'webp', 'bmp', 'tiff', 'qoi', 'ppm', 'pgm', 'pgmyuv', 'pam', 'pbm', 'gif', 'apng']);


function demuxerOf(format: string | undefined): string | undefined {
  return format?.split(',')[0] || undefined;
}

/**
 * The ffmpeg input options that open a library or user background safely, looped forever when
 * `loop` (the default; the composer trims to the video's length). The probed demuxer is forced
 * when known, and the looping option fits it: image2 gets `-loop 1` and `-pattern_type none` (a "%d"
 * in a file name must not turn into an image sequence); everything else — a *_pipe image, a still
 * in an MP4, a video, a GIF — gets `-stream_loop -1`. Add `-framerate`/`-r` handling in the
 * filter graph (an `fps` filter), not here.
 */
export function backgroundFileInputArgs(bg: Extract<Background, { path: string }>, opts: { loop?: boolean } = {}): string[] {
  const loop = opts.loop ?? true;
  const demuxer = demuxerOf(bg.format);
  const guards = ['-protocol_whitelist', 'file', '-format_whitelist', BACKGROUND_DEMUXERS];
  let demux: string[];
  if (demuxer === 'image2') demux = ['-f', 'image2', '-pattern_type', 'none', ...(loop ? ['-loop', '1'] : [])];
  else demux = [...(demuxer ? ['-f', demuxer] : []), ...(loop ? ['-stream_loop', '-1'] : [])];
  return [...guards, ...demux, '-i', fileUrl(bg.path)];
}

// ---------------------------------------------------------------------------------------------
// Probing

interface ProbeStream {
  codec_type?: string;
  codec_name?: string;
  width?: number;
  height?: number;
  nb_frames?: string;
  disposition?: { attached_pic?: number };
}
interface ProbeJson {
  streams?: ProbeStream[];
  format?: { format_name?: string; duration?: string };
}

export interface ProbedBackground {
  kind: 'image' | 'video';
  format: string;
  codec: string;
  width: number;
  height: number;
}

function notMedia(file: string, why: string, extra: Record<string, string | number> = {}): PipelineError {
  return new PipelineError('BACKGROUND_MISSING', `${file}: ${why}`, { name: file, reason: why, available: '', ...extra });
}

const AUDIO_DEMUXERS = /^(mp3|wav|flac|aac|ogg|opus|w64|aiff|amr|ape|caf|m4a)$/;

/**
 * Decides whether a file is an image or a video (ffprobe decides, never the file name): a
 * single-image demuxer or codec, or a still (one frame) in a video container, is an image; more
 * than one frame is a video (animated GIFs included). Unless `decode: false`, the first frame is
 * decoded too, since a truncated file can probe fine. Throws BACKGROUND_MISSING saying why when the
 * file is neither.
 */
export async function probeBackgroundFile(file: string, opts: ToolOptions & { decode?: boolean } = {}): Promise<ProbedBackground> {
  const abs = path.resolve(file);
  const st = await stat(abs).catch(() => null);
  if (!st) throw notMedia(file, 'no such file');
  if (st.isDirectory()) throw notMedia(file, 'a folder, not an image or video file');
  if (!st.isFile()) throw notMedia(file, 'not a regular file');
  if (st.size === 0) throw notMedia(file, 'the file is empty');
  const ffprobe = opts.ffprobe ?? ffprobeBin();
  const guards = ['-protocol_whitelist', 'file', '-format_whitelist', BACKGROUND_DEMUXERS, '-pattern_type', 'none'];
  const result = await execa(ffprobe, ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', ...guards, fileUrl(abs)], {
    reject: false,
    cancelSignal: opts.signal,
    timeout: 30_000,
  });
  if (result.isCanceled) throw new PipelineError('CANCELLED', 'cancelled');
  const notRun = childNotRun(result, FFPROBE, ffprobe);
  if (notRun) throw notRun;
  const stderr = String(result.stderr ?? '');
  if (result.exitCode !== 0) {
    const refused = /\[(\w+) @ [^\]]+\] Format not on whitelist/.exec(stderr);
    if (refused) {
      const demuxer = refused[1];
      if (AUDIO_DEMUXERS.test(demuxer)) throw notMedia(file, `an audio file (${demuxer}), not an image or video`, { format: demuxer });
      if (/^(concat|hls|dash|playlist|m3u|ffmetadata)/.test(demuxer)) {
        throw notMedia(file, `a ${demuxer} list that points to other files, not an image or video`, { format: demuxer });
      }
      throw notMedia(file, `format "${demuxer}" is not supported for backgrounds`, { format: demuxer });
    }
    if (/Invalid data found when processing input/.test(stderr)) throw notMedia(file, 'not an image or video file');
    const last = stderr.trim().split('\n').pop() || 'ffprobe failed';
    throw notMedia(file, `cannot be read (${last})`);
  }
  let json: ProbeJson;
  try {
    json = JSON.parse(String(result.stdout)) as ProbeJson;
  } catch {
    throw notMedia(file, 'cannot be read (unreadable ffprobe output)');
  }
  const format = json.format?.format_name ?? '';
  const streams = json.streams ?? [];
  const video = streams.find((s) => s.codec_type === 'video' && !s.disposition?.attached_pic);
  if (!video) {
    const audio = streams.some((s) => s.codec_type === 'audio');
    throw notMedia(file, audio ? 'audio only, no picture' : 'no picture in it, not an image or video');
  }
  const codec = video.codec_name ?? '';
  if (codec === 'svg') throw notMedia(file, 'SVG images are not supported; convert it to PNG', { format: 'svg' });
  const width = video.width ?? 0;
  const height = video.height ?? 0;
  if (!(width > 0 && height > 0)) throw notMedia(file, 'not an image or video file (no picture could be read from it)');
  const demuxer = demuxerOf(format) ?? '';
  let kind: 'image' | 'video';
  if (IMAGE_DEMUXERS.includes(demuxer)) {
    if (!IMAGE_CODECS.has(codec)) throw notMedia(file, `image codec "${codec}" is not supported`, { format: codec });
    kind = 'image';
  } else {
    let frames = video.nb_frames !== undefined && /^\d+$/.test(video.nb_frames) ? Number(video.nb_frames) : NaN;
    if (!Number.isFinite(frames)) frames = await countFirstPackets(ffprobe, abs, guards, opts.signal);
    if (frames === 0) throw notMedia(file, 'the video has no frames');
    kind = frames > 1 ? 'video' : 'image';
  }
  if (opts.decode ?? true) await decodeFirstFrame(file, abs, format, opts);
  return { kind, format, codec, width, height };
}

/** Counts at most the first 2 video packets: enough to tell a still from a video without reading it all. */
async function countFirstPackets(ffprobe: string, abs: string, guards: string[], signal?: AbortSignal): Promise<number> {
  const r = await execa(
    ffprobe,
    ['-v', 'error', '-select_streams', 'v:0', '-read_intervals', '%+#2', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', ...guards, fileUrl(abs)],
    { reject: false, cancelSignal: signal, timeout: 30_000 },
  );
  if (r.isCanceled) throw new PipelineError('CANCELLED', 'cancelled');
  const n = parseInt(String(r.stdout).trim(), 10);
  return Number.isFinite(n) ? n : 0;
}

/** A probe can succeed on a truncated file; decoding one frame proves the picture is usable. */
async function decodeFirstFrame(file: string, abs: string, format: string, opts: ToolOptions): Promise<void> {
  const args = backgroundFileInputArgs({ kind: 'image', path: abs, name: '', format }, { loop: false });
  const r = await execa(opts.ffmpeg ?? ffmpegBin(), ['-v', 'error', '-nostdin', ...args, '-frames:v', '1', '-f', 'null', '-'], {
    reject: false,
    cancelSignal: opts.signal,
    timeout: 30_000,
  });
  if (r.isCanceled) throw new PipelineError('CANCELLED', 'cancelled');
  if (r.exitCode !== 0) {
    const last = String(r.stderr ?? '').trim().split('\n').pop() || 'decoding failed';
    throw notMedia(file, `the picture cannot be decoded (${last})`);
  }
}

// ---------------------------------------------------------------------------------------------
// Colours

/** Colour names accepted by `color:NAME` (and a bare NAME when no background has that name). */
export const COLOR_NAMES: Readonly<Record<string, string>> = {
  black: '000000',
  white: 'ffffff',
  gray: '808080',
  grey: '808080',
  red: 'ff0000',
  green: '00ff00',
  blue: '0000ff',
  yellow: 'ffff00',
  cyan: '00ffff',
  magenta: 'ff00ff',
  orange: 'ffa500',
  purple: '800080',
  pink: 'ffc0cb',
  chroma: '00b140',
  chromagreen: '00b140',
  chromablue: '0047bb',
};

/**
 * Parses `#RRGGBB`, `#RGB`, `0xRRGGBB` or a name from COLOR_NAMES (case-insensitive) into ffmpeg's
 * `0xrrggbb`; null when it is none of these.
 */
export function parseColor(text: string): string | null {
  const s = text.trim().toLowerCase();
  let m = /^(?:#|0x)([0-9a-f]{6})$/.exec(s);
  if (m) return `0x${m[1]}`;
  m = /^#([0-9a-f])([0-9a-f])([0-9a-f])$/.exec(s);
  if (m) return `0x${m[1]}${m[1]}${m[2]}${m[2]}${m[3]}${m[3]}`;
  const named = COLOR_NAMES[s];
  return named ? `0x${named}` : null;
}

// ---------------------------------------------------------------------------------------------
// Listing and resolving

/** Probe results by absolute path, valid while the file's size and mtime stay the same. */
const cache = new Map<string, { key: string; probed: ProbedBackground | null; decoded: boolean }>();

async function probeCached(file: string, opts: ToolOptions, decode: boolean): Promise<ProbedBackground | null> {
  const st = await stat(file).catch(() => null);
  if (!st || !st.isFile()) return null;
  const key = `${st.size}:${st.mtimeMs}`;
  const hit = cache.get(file);
  if (hit && hit.key === key && (hit.decoded || !decode || hit.probed === null)) return hit.probed;
  let probed: ProbedBackground | null;
  try {
    probed = await probeBackgroundFile(file, { ...opts, decode });
  } catch (err) {
    if (err instanceof PipelineError && (err.code === 'CANCELLED' || err.code === 'TOOL_MISSING')) throw err;
    probed = null;
  }
  cache.set(file, { key, probed, decoded: decode });
  return probed;
}

function nameOf(file: string): string {
  const base = path.basename(file);
  const ext = path.extname(base);
  return ext && ext !== base ? base.slice(0, -ext.length) : base;
}

type LibraryEntry = BackgroundEntry & { format: string };

/**
 * The library's usable files, one per name (case-insensitive; the first file in name order wins),
 * sorted by name. `only` limits the probing to one name (or full file name, "studio.png"), so
 * resolving a name costs one probe.
 */
async function scanLibrary(dir: string, opts: ToolOptions, only?: string): Promise<LibraryEntry[]> {
  const abs = path.resolve(dir);
  const entries = await readdir(abs, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
    throw err;
  });
  const files = entries
    .filter((e) => (e.isFile() || e.isSymbolicLink()) && !e.name.startsWith('.'))
    .map((e) => e.name)
    .filter((f) => only === undefined || [nameOf(f).toLowerCase(), f.toLowerCase()].includes(only.toLowerCase()))
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const probed: LibraryEntry[] = [];
  // A few probes at a time: fast enough for a menu, gentle on a small machine.
  for (let i = 0; i < files.length; i += 4) {
    const batch = files.slice(i, i + 4);
    const results = await Promise.all(batch.map((f) => probeCached(path.join(abs, f), opts, only !== undefined)));
    results.forEach((p, j) => {
      if (p) probed.push({ name: nameOf(batch[j]), kind: p.kind, path: path.join(abs, batch[j]), format: p.format });
    });
  }
  const seen = new Set<string>();
  const unique = probed.filter((e) => {
    const k = e.name.toLowerCase();
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
  return unique.sort((a, b) => a.name.toLowerCase().localeCompare(b.name.toLowerCase()) || (a.name < b.name ? -1 : 1));
}

/**
 * A child that did not finish: one that could not be started is a missing tool; one killed by a
 * signal (a stop, the OOM killer, a timeout) is a failure that says so, never "not installed".
 */
function childNotRun(r: { failed: boolean; exitCode?: number; signal?: string; timedOut?: boolean; code?: string; shortMessage?: string }, tool: string, program: string): PipelineError | null {
  if (!r.failed || r.exitCode !== undefined) return null;
  if (r.signal || r.timedOut) {
    const detail = r.timedOut ? 'timed out' : `killed by ${r.signal}`;
    return new PipelineError('TOOL_FAILED', `${tool} was ${detail}`, { tool, detail });
  }
  return new PipelineError('TOOL_MISSING', `cannot run ${program}: ${r.shortMessage ?? 'not found'}`, { tool, fix: 'apt-get install ffmpeg' });
}

/** The usable images and videos in the library, sorted by name. Files ffprobe cannot read are left out. */
export async function listBackgrounds(dir: string, opts: ToolOptions = {}): Promise<BackgroundEntry[]> {
  const all = await scanLibrary(dir, opts);
  return all.map(({ name, kind, path: p }) => ({ name, kind, path: p }));
}

export interface ResolveOptions extends ToolOptions {
  /** Accept a path to any image/video file (default true). Chat bots pass false: names and colours only. */
  allowPaths?: boolean;
}

/**
 * Turns what a user typed into a background:
 * - `color:#RRGGBB`, `color:NAME`, `#RRGGBB` / `#RGB` / `0xRRGGBB`: a solid colour;
 * - a library name (case-insensitive);
 * - a path to an image or video file (when allowPaths);
 * - a bare colour name (`red`) when nothing in the library has that name.
 * Anything else: PipelineError BACKGROUND_MISSING with params { name, available }.
 */
export async function resolveBackground(spec: string, dir: string, opts: ResolveOptions = {}): Promise<Background> {
  const raw = spec.trim();
  const allowPaths = opts.allowPaths ?? true;
  const available = async () => (await listBackgrounds(dir, opts)).map((b) => b.name).join(', ');
  /** `reason` goes into the params when it says more than "not found" (see the BACKGROUND_MISSING text). */
  const missing = async (why: string, reason?: string) => {
    const list = await available();
    return new PipelineError('BACKGROUND_MISSING', `background "${raw}": ${why}${list ? `; available: ${list}` : ''}`, {
      name: raw,
      available: list,
      ...(reason ? { reason } : {}),
    });
  };
  if (!raw) throw await missing('no background given');

  const prefixed = /^colou?r:(.*)$/i.exec(raw);
  if (prefixed) {
    const color = parseColor(prefixed[1]);
    if (!color) {
      const why = `"${prefixed[1]}" is not a colour (use #RRGGBB or one of: ${Object.keys(COLOR_NAMES).join(', ')})`;
      throw await missing(why, why);
    }
    return { kind: 'color', color, name: raw };
  }
  if (/^(#|0x)/i.test(raw)) {
    const color = parseColor(raw);
    if (!color) throw await missing('not a colour (use #RRGGBB)', 'not a colour (use #RRGGBB)');
    return { kind: 'color', color, name: raw };
  }

  const looksLikePath = /[\\/]/.test(raw) || raw.startsWith('~');
  if (!looksLikePath) {
    // Only files of that name are probed (and their first frame decoded); results are cached.
    const [hit] = await scanLibrary(dir, opts, raw);
    if (hit) return { kind: hit.kind, path: hit.path, name: hit.name, format: hit.format };
    // A file of that name that cannot be used: say why rather than "no such background".
    const broken = (await readdir(path.resolve(dir)).catch(() => [] as string[])).find(
      (f) => !f.startsWith('.') && [nameOf(f).toLowerCase(), f.toLowerCase()].includes(raw.toLowerCase()),
    );
    if (broken) {
      const why = await probeBackgroundFile(path.join(path.resolve(dir), broken), opts).then(
        () => 'cannot be read',
        (err: unknown) => {
          if (err instanceof PipelineError && err.code === 'BACKGROUND_MISSING') return String(err.params.reason ?? err.message);
          throw err;
        },
      );
      const list = await available();
      throw new PipelineError('BACKGROUND_MISSING', `background "${raw}" (${broken}): ${why}`, { name: raw, reason: why, available: list });
    }
  }
  if (allowPaths) {
    const st = await stat(raw).catch(() => null);
    if (st || looksLikePath) {
      const probed = await probeBackgroundFile(raw, opts).catch(async (err: unknown) => {
        if (err instanceof PipelineError && err.code === 'BACKGROUND_MISSING') {
          throw new PipelineError('BACKGROUND_MISSING', err.message, { ...err.params, name: raw, available: await available() });
        }
        throw err;
      });
      return { kind: probed.kind, path: path.resolve(raw), name: nameOf(raw), format: probed.format };
    }
  }
  const color = parseColor(raw);
  if (color) return { kind: 'color', color, name: raw.toLowerCase() };
  throw await missing('no such background');
}

// ---------------------------------------------------------------------------------------------
// Defaults

export interface DefaultBackground {
  name: string;
  kind: 'image' | 'video';
  /** Short English description (localised labels live in src/i18n/messages.ts). */
  description: string;
}

/** One full turn of the `gradients` source takes this many frames at 25 fps: a seamless 6 s loop. */
const LOOP_FRAMES = 150;
const LOOP_FPS = 25;
const LOOP_SPEED = ((2 * Math.PI) / LOOP_FRAMES).toFixed(7);

interface Recipe extends DefaultBackground {
  /** lavfi source graph for a still of side s, or a video of side v (rendered at v/2, scaled up). */
  source: (side: number) => string;
}

const RECIPES: Recipe[] = [
  {
    name: 'studio',
    kind: 'image',
    description: 'soft grey-blue studio backdrop',
    source: (s) =>
      `gradients=s=${s}x${s}:type=radial:c0=0xdfe7f0:c1=0x7f93ab:x0=${Math.round(s / 2)}:y0=${Math.round(s * 0.45)}:x1=0:y1=0:seed=1`,
  },
  {
    name: 'sunset',
    kind: 'image',
    description: 'warm sunset gradient',
    source: (s) => `gradients=s=${s}x${s}:n=3:c0=0x2b1b4f:c1=0xd9596b:c2=0xffb36b:x0=${s >> 1}:y0=0:x1=${s >> 1}:y1=${s - 1}:seed=1`,
  },
  {
    name: 'night',
    kind: 'video',
    description: 'dark blue, slowly moving gradient (6 s loop)',
    source: (v) =>
      `gradients=s=${v}x${v}:r=${LOOP_FPS}:n=3:c0=0x050a1e:c1=0x142a5c:c2=0x0a1433:x0=0:y0=0:x1=${v - 1}:y1=${v - 1}:speed=${LOOP_SPEED}:seed=1`,
  },
  {
    name: 'neon',
    kind: 'video',
    description: 'animated purple and cyan neon gradient (6 s loop)',
    source: (v) =>
      `gradients=s=${v}x${v}:r=${LOOP_FPS}:n=4:c0=0x7b2ff7:c1=0x00e5ff:c2=0xc026d3:c3=0x1b0b4a:x0=0:y0=0:x1=${v - 1}:y1=${v - 1}:speed=${LOOP_SPEED}:seed=1`,
  },
  { name: 'white', kind: 'image', description: 'plain white', source: (s) => `color=c=white:s=${s}x${s}` },
  { name: 'green', kind: 'image', description: 'chroma-key green (#00b140)', source: (s) => `color=c=0x00b140:s=${s}x${s}` },
];

/** The defaults generated on first run. */
export const DEFAULT_BACKGROUNDS: readonly DefaultBackground[] = RECIPES.map(({ name, kind, description }) => ({ name, kind, description }));

export interface EnsureOptions {
  ffmpeg?: string;
  signal?: AbortSignal;
  /**
   * Side of the square stills in pixels (default 1920); the looping videos are square at 9/16 of
   * it (default 1080). Square covers both landscape and portrait frames: a 1920x1920 still is
   * centre-cropped to 1920x1080 or 1080x1920 without any scaling. Tests pass a small size.
   */
  size?: number;
  /** Regenerate defaults the user deleted (normally a deleted default stays deleted). */
  restore?: boolean;
}

export interface EnsureResult {
  dir: string;
  /** Names generated by this call. */
  generated: string[];
  /** Default names already there (any extension) or deliberately removed by the user. */
  skipped: string[];
}

/** Records which defaults were generated, so that a default the user deleted is not brought back. */
const MANIFEST = '.defaults.json';

function even(n: number): number {
  return Math.max(2, Math.round(n / 2) * 2);
}

async function readManifest(dir: string): Promise<Set<string>> {
  try {
    const parsed = JSON.parse(await readFile(path.join(dir, MANIFEST), 'utf8')) as { generated?: unknown };
    return new Set(Array.isArray(parsed.generated) ? parsed.generated.filter((x): x is string => typeof x === 'string') : []);
  } catch {
    return new Set();
  }
}

/**
 * Generates the default backgrounds that are missing from `dir` (created if needed). Idempotent:
 * a name already present with any extension is left alone, and so is a default the user deleted
 * after it was generated (unless `restore`). Each file is written under a hidden temporary name
 * and renamed into place, so a crash or a concurrent run never leaves a half-written background.
 */
export async function ensureDefaultBackgrounds(dir: string, opts: EnsureOptions = {}): Promise<EnsureResult> {
  const abs = path.resolve(dir);
  // One run per folder: concurrent callers in this process (the bots' start-up run, a first
  // request, a submit) share it, and other processes wait on the lock file instead of each
  // rendering the same six files.
  const running = inFlight.get(abs);
  if (running) return running;
  const run = withDefaultsLock(abs, () => generateMissingDefaults(abs, opts));
  inFlight.set(abs, run);
  try {
    return await run;
  } finally {
    inFlight.delete(abs);
  }
}

const inFlight = new Map<string, Promise<EnsureResult>>();
/** Held (a file with the holder's pid) while one process generates the defaults of a folder. */
export const DEFAULTS_LOCK = '.defaults.lock';
/** A lock older than this is a crashed holder's, whatever its pid says. */
const LOCK_STALE_MS = 15 * 60_000;
const LOCK_POLL_MS = 200;

/**
 * Runs `fn` holding the folder's lock file; a lock held by a live process is waited out (then the
 * folder is scanned again, so whatever the holder made is skipped). Why not a Redis lock: the CLI
 * and `doctor` generate defaults without Redis, and the folder is what is shared.
 */
async function withDefaultsLock<T>(abs: string, fn: () => Promise<T>): Promise<T> {
  await mkdir(abs, { recursive: true });
  const lock = path.join(abs, DEFAULTS_LOCK);
  for (;;) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      if (await lockIsStale(lock)) await rm(lock, { force: true });
      else await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { force: true });
  }
}

async function lockIsStale(lock: string): Promise<boolean> {
  const [pid, st] = await Promise.all([readFile(lock, 'utf8').catch(() => ''), stat(lock).catch(() => null)]);
  if (!st) return false; // gone meanwhile: the next try takes it
  if (Date.now() - st.mtimeMs > LOCK_STALE_MS) return true;
  const n = Number(pid);
  if (!Number.isInteger(n) || n <= 0) return Date.now() - st.mtimeMs > 5000; // being written, or junk
  try {
    process.kill(n, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

async function generateMissingDefaults(abs: string, opts: EnsureOptions): Promise<EnsureResult> {
  const stillSide = even(opts.size ?? 1920);
  const videoSide = even((stillSide * 9) / 16);
  const present = new Set(
    (await readdir(abs)).filter((f) => !f.startsWith('.')).map((f) => nameOf(f).toLowerCase()),
  );
  const manifest = await readManifest(abs);
  const generated: string[] = [];
  const skipped: string[] = [];
  for (const recipe of RECIPES) {
    if (present.has(recipe.name) || (manifest.has(recipe.name) && !opts.restore)) {
      skipped.push(recipe.name);
      continue;
    }
    await generate(abs, recipe, recipe.kind === 'image' ? stillSide : videoSide, opts);
    generated.push(recipe.name);
    manifest.add(recipe.name);
  }
  if (generated.length > 0) {
    const tmp = path.join(abs, `.${MANIFEST}.${process.pid}-${randomBytes(4).toString('hex')}`);
    await writeFile(tmp, JSON.stringify({ generated: [...manifest].sort() }, null, 2) + '\n');
    await rename(tmp, path.join(abs, MANIFEST));
  }
  return { dir: abs, generated, skipped };
}

async function generate(dir: string, recipe: Recipe, side: number, opts: EnsureOptions): Promise<void> {
  const ext = recipe.kind === 'image' ? 'png' : 'mp4';
  const final = path.join(dir, `${recipe.name}.${ext}`);
  const tmp = path.join(dir, `.${recipe.name}.${process.pid}-${randomBytes(4).toString('hex')}.tmp.${ext}`);
  const args =
    recipe.kind === 'image'
      ? // format inside the lavfi graph: converting later would go through yuv420p and shift the colours.
        ['-f', 'lavfi', '-i', `${recipe.source(side)},format=rgb24`, '-frames:v', '1', '-c:v', 'png', '-f', 'image2', '-update', '1', fileUrl(tmp)]
      : [
          // Smooth gradients: render at half size (4x fewer pixels to compute), scale up with no visible loss.
          '-f', 'lavfi', '-i', recipe.source(even(side / 2)),
          '-frames:v', String(LOOP_FRAMES),
          '-vf', `scale=${side}:${side}:flags=bicubic,format=yuv420p`,
          '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '20', '-g', String(LOOP_FPS * 2),
          '-movflags', '+faststart', '-an', '-f', 'mp4', fileUrl(tmp),
        ];
  try {
    const r = await execa(opts.ffmpeg ?? ffmpegBin(), ['-v', 'error', '-nostdin', '-y', ...args], {
      reject: false,
      cancelSignal: opts.signal,
      timeout: 300_000,
    });
    if (r.isCanceled) throw new PipelineError('CANCELLED', 'cancelled');
    const notRun = childNotRun(r, FFMPEG, opts.ffmpeg ?? ffmpegBin());
    if (notRun) throw notRun;
    if (r.exitCode !== 0) {
      const detail = String(r.stderr ?? '').trim().split('\n').pop() || `exit code ${r.exitCode}`;
      throw new PipelineError('TOOL_FAILED', `ffmpeg could not generate background "${recipe.name}": ${detail}`, { tool: FFMPEG, detail });
    }
    await rename(tmp, final);
  } finally {
    await rm(tmp, { force: true });
  }
}

/** Makes sure the library exists (first run), then resolves a name, path or colour. */
export async function prepareBackground(spec: string, dir: string): Promise<Background> {
  await ensureDefaultBackgrounds(dir);
  return resolveBackground(spec, dir);
}
