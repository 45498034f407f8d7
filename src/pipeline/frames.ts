import type { Readable } from 'node:stream';

/**
 * Cuts a raw video byte stream into buffers of `frameBytes * framesPerChunk` bytes (the last one
 * may hold fewer whole frames). Pipes deliver arbitrary slices, so frames are reassembled here.
 * Trailing bytes that do not make a whole frame are an error: they mean the producer and the
 * consumer disagree about the frame size.
 */
export async function* readFrameChunks(
  stream: Readable,
  frameBytes: number,
  framesPerChunk: number,
): AsyncGenerator<{ pixels: Buffer; count: number }> {
  const chunkBytes = frameBytes * framesPerChunk;
  let buf = Buffer.allocUnsafe(chunkBytes);
  let filled = 0;
  for await (const data of stream as AsyncIterable<Buffer>) {
    let offset = 0;
    while (offset < data.length) {
      const n = Math.min(chunkBytes - filled, data.length - offset);
      data.copy(buf, filled, offset, offset + n);
      filled += n;
      offset += n;
      if (filled === chunkBytes) {
        yield { pixels: buf, count: framesPerChunk };
        buf = Buffer.allocUnsafe(chunkBytes);
        filled = 0;
      }
    }
  }
  if (filled % frameBytes !== 0) {
    throw new Error(`raw stream ended inside a frame (${filled % frameBytes} of ${frameBytes} bytes)`);
  }
  if (filled > 0) yield { pixels: buf.subarray(0, filled), count: filled / frameBytes };
}
