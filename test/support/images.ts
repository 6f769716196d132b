import { crc32, deflateSync } from 'node:zlib';

/**
 * Tiny but complete image files, built byte by byte so the suites need no image library and no binary fixtures.
 * Each one is a well-formed file a decoder would open, not just a header that fools a size reader.
 */

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

type Pixel = (x: number, y: number) => [number, number, number];

function encodePng(width: number, height: number, pixel: Pixel): Buffer {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8); // bit depth 8, colour type RGB, deflate, adaptive filtering, no interlace
  const rows = Array.from({ length: height }, (_, y) =>
    Buffer.from([0, ...Array.from({ length: width }, (_, x) => pixel(x, y)).flat()]),
  );
  const pixels = Buffer.concat(rows);
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', header),
    pngChunk('IDAT', deflateSync(pixels)),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** An 8-bit RGB PNG of the given size, every pixel the same colour (compresses to a few dozen bytes). */
export const png = (width = 3, height = 2): Buffer => encodePng(width, height, () => [200, 30, 90]);

/** A PNG of pseudo-random pixels, which deflate cannot shrink: about 3 bytes per pixel on disk. */
export function noisyPng(width: number, height: number): Buffer {
  let seed = 0x2545f491;
  const next = (): number => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed & 0xff;
  };
  return encodePng(width, height, () => [next(), next(), next()]);
}

const u16be = (n: number): number[] => [(n >> 8) & 0xff, n & 0xff];
const u16le = (n: number): number[] => [n & 0xff, (n >> 8) & 0xff];
const segment = (marker: number, body: number[]): number[] => [
  0xff,
  marker,
  ...u16be(body.length + 2),
  ...body,
];

const zeros = (n: number): number[] => new Array<number>(n).fill(0);

/**
 * A baseline greyscale JPEG, mid-grey. Its Huffman tables hold one code each (DC difference 0, AC
 * end-of-block), so every 8x8 block is the two bits `00`.
 */
export function jpeg(width = 4, height = 3): Buffer {
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  const bits = '00'.repeat(blocks).padEnd(Math.ceil((blocks * 2) / 8) * 8, '1');
  const scan = (bits.match(/.{8}/g) ?? []).map((b) => parseInt(b, 2));
  // Counts of codes per length 1..16 (a single code of length 1), then its symbol 0x00.
  const huffman = (tableClassAndId: number): number[] => [tableClassAndId, 1, ...zeros(15), 0x00];
  // prettier-ignore
  return Buffer.from([
    0xff, 0xd8,
    ...segment(0xe0, [0x4a, 0x46, 0x49, 0x46, 0x00, 1, 1, 0, ...u16be(1), ...u16be(1), 0, 0]), // JFIF APP0
    ...segment(0xdb, [0x00, ...new Array<number>(64).fill(1)]), // quantisation table 0, all ones
    ...segment(0xc0, [8, ...u16be(height), ...u16be(width), 1, 1, 0x11, 0]), // SOF0: 1 component, table 0
    ...segment(0xc4, huffman(0x00)), // DC table 0
    ...segment(0xc4, huffman(0x10)), // AC table 0
    ...segment(0xda, [1, 1, 0x00, 0, 63, 0]), // SOS
    ...scan,
    0xff, 0xd9,
  ]);
}

/**
 * A GIF89a of colour 0 (red) everywhere. The LZW stream sends a clear code before every pixel, which keeps the
 * code width at 3 bits: valid, if not compressed.
 */
export function gif(width = 2, height = 2): Buffer {
  const codes = [...Array.from({ length: width * height }, () => [4, 0]).flat(), 5];
  const packed: number[] = [];
  let acc = 0;
  let count = 0;
  for (const code of codes) {
    acc |= code << count;
    count += 3;
    while (count >= 8) {
      packed.push(acc & 0xff);
      acc >>= 8;
      count -= 8;
    }
  }
  if (count > 0) {
    packed.push(acc & 0xff);
  }
  const blocks: number[] = [];
  for (let i = 0; i < packed.length; i += 255) {
    const chunk = packed.slice(i, i + 255);
    blocks.push(chunk.length, ...chunk);
  }
  // prettier-ignore
  return Buffer.from([
    ...Buffer.from('GIF89a', 'latin1'),
    ...u16le(width), ...u16le(height), 0x80, 0, 0, // global colour table of 2 entries
    255, 0, 0, 255, 255, 255,
    0x2c, 0, 0, 0, 0, ...u16le(width), ...u16le(height), 0,
    2, ...blocks, 0,
    0x3b,
  ]);
}

/** A 1x1 lossless WebP (VP8L), the probe image browsers' feature detection has used for years. */
export function webp(): Buffer {
  return Buffer.from('UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==', 'base64');
}

/** A PNG with one byte of its IDAT chunk flipped: the header still reads, the chunk's CRC no longer matches. */
export function corruptPng(): Buffer {
  const bytes = png();
  bytes[bytes.length - 20] ^= 0xff;
  return bytes;
}

/** An empty ZIP archive (only the end-of-central-directory record) and the start of an ELF executable. */
export const zip = (): Buffer => Buffer.concat([Buffer.from('PK\x05\x06', 'latin1'), Buffer.alloc(18)]);
export const elf = (): Buffer =>
  Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(56, 0)]);
