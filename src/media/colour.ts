/**
 * Colour: which YCbCr matrix a video's pixels use, and the arguments that convert with it and say
 * so. Every encode (output, cut-out, previews, recompose, the bench's reference) takes its colour
 * arguments from here, so that the matrix a file is converted with is always the one it is tagged
 * with. Pure.
 *
 * Why it matters: players read an untagged HD video as BT.709 (browsers, mpv, VLC), while
 * swscale converts with BT.601 unless told otherwise: a BT.709 input that went through RGB and
 * back untagged came out up to 35 levels off.
 */

/** Matrices ffmpeg's scale filter knows by these names (in_color_matrix / out_color_matrix). */
export type Matrix = 'bt709' | 'bt601' | 'bt2020';
export type Range = 'tv' | 'pc';

/** How a decoded video's YCbCr is to be read. */
export interface SourceColour {
  matrix: Matrix;
  range: Range;
}

/** How an encode converts to YCbCr and tags it (always limited range: what players expect of H.264). */
export interface EncodeColour {
  matrix: 'bt709' | 'bt601';
}

/** What ffprobe says about a stream's colour (any field may be absent or "unknown"). */
export interface ProbedColour {
  width: number;
  height: number;
  colorSpace?: string;
  colorRange?: string;
}

/** Pure: mpv's rule for untagged video, which browsers and VLC share in effect: HD is BT.709. */
export function isHd(width: number, height: number): boolean {
  return width >= 1280 || height > 576;
}

/** Pure: the matrix a stream was encoded with: its tag, else what players assume for its size. */
export function sourceColour(p: ProbedColour): SourceColour {
  const space = (p.colorSpace ?? '').toLowerCase();
  let matrix: Matrix;
  if (space === 'bt709') matrix = 'bt709';
  else if (space === 'bt2020nc' || space === 'bt2020c') matrix = 'bt2020';
  else if (['smpte170m', 'bt470bg', 'fcc', 'smpte240m'].includes(space)) matrix = 'bt601';
  else matrix = isHd(p.width, p.height) ? 'bt709' : 'bt601';
  return { matrix, range: p.colorRange === 'pc' ? 'pc' : 'tv' };
}

/**
 * Pure: the matrix an output of width x height gets: BT.709 when it is HD or when the source
 * came in as BT.709 (BT.2020 sources too: we write SDR H.264), BT.601 for SD from SD.
 */
export function encodeColour(source: SourceColour | null, width: number, height: number): EncodeColour {
  if (isHd(width, height) || (source && source.matrix !== 'bt601')) return { matrix: 'bt709' };
  return { matrix: 'bt601' };
}

/** ffmpeg's names for the tags of each matrix. */
const TAGS: Record<EncodeColour['matrix'], { colorspace: string; primaries: string; trc: string }> = {
  bt709: { colorspace: 'bt709', primaries: 'bt709', trc: 'bt709' },
  bt601: { colorspace: 'smpte170m', primaries: 'smpte170m', trc: 'smpte170m' },
};

/**
 * Pure: the encoder options that tag a stream (`stream` = an ffmpeg stream specifier such as "v:0"
 * when an output has several video streams).
 */
export function colourArgs(c: EncodeColour, stream = ''): string[] {
  const s = stream ? `:${stream}` : '';
  const t = TAGS[c.matrix];
  return [`-colorspace${s}`, t.colorspace, `-color_primaries${s}`, t.primaries, `-color_trc${s}`, t.trc, `-color_range${s}`, 'tv'];
}

/**
 * Pure: the filter that converts RGB to `pixFmt` with the matrix colourArgs tags. accurate_rnd and
 * full_chroma_int keep flat colours within a level of the exact conversion.
 */
export function toYuvFilter(c: EncodeColour, pixFmt: string): string {
  return `scale=out_color_matrix=${c.matrix}:out_range=tv:flags=bicubic+accurate_rnd+full_chroma_int,format=${pixFmt}`;
}

/** Pure: scale-filter options that read YCbCr with the source's own matrix and range. */
export function fromYuvOptions(c: SourceColour): string {
  return `in_color_matrix=${c.matrix}:in_range=${c.range}`;
}

/** Pure: what a file we encoded ourselves (a cut-out) was converted with. */
export function sourceOfEncoded(c: EncodeColour): SourceColour {
  return { matrix: c.matrix, range: 'tv' };
}
