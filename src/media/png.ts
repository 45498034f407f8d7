/**
 * A minimal PNG writer (8-bit RGB, no filtering) and a synthetic test frame: the GPU check makes
 * the upscaler's input without ffmpeg, which the device it is meant for may lack.
 */
import { crc32, deflateSync } from 'node:zlib';

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

/** Packed rgb24 pixels as a PNG file. */
export function encodePng(rgb: Buffer, width: number, height: number): Buffer {
  if (rgb.length !== width * height * 3) throw new RangeError(`encodePng: ${rgb.length} bytes for ${width}x${height}`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  const rows = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) rgb.copy(rows, y * (width * 3 + 1) + 1, y * width * 3, (y + 1) * width * 3);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(rows, { level: 1 })), chunk('IEND', Buffer.alloc(0))]);
}

/** Gradients with moving bars and a little noise: something like video for an upscaler to chew on. */
export function syntheticFrame(width: number, height: number, index: number): Buffer {
  const out = Buffer.alloc(width * height * 3);
  let seed = (index + 1) * 2654435761;
  for (let y = 0, o = 0; y < height; y++) {
    for (let x = 0; x < width; x++, o += 3) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const n = (seed >>> 24) & 15;
      const bar = ((x + index * 4) >> 4) & 1 ? 60 : 0;
      out[o] = ((x * 255) / width + n + bar) & 255;
      out[o + 1] = ((y * 255) / height + n) & 255;
      out[o + 2] = (128 + bar + n) & 255;
    }
  }
  return out;
}
