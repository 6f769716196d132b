import { HttpStatus } from '@nestjs/common';
import { imageSize } from 'image-size';
import { crc32 } from 'node:zlib';
import { ApiError } from '../common/errors/api-error';
import type { ImageMimeType } from './entities/image.entity';

export const MAX_IMAGE_DIMENSION = 16_384;

export interface ImageFormat {
  mime: ImageMimeType;
  ext: 'png' | 'jpg' | 'webp' | 'gif';
  /** The name image-size gives the type; its answer must agree with the magic bytes. */
  sizeType: string;
}

export interface ProbedImage {
  mime: ImageMimeType;
  ext: ImageFormat['ext'];
  width: number;
  height: number;
}

const ascii = (bytes: Buffer, start: number, end: number): string => bytes.toString('latin1', start, end);

const FORMATS: { format: ImageFormat; matches: (b: Buffer) => boolean }[] = [
  {
    format: { mime: 'image/png', ext: 'png', sizeType: 'png' },
    matches: (b) => b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])),
  },
  {
    format: { mime: 'image/jpeg', ext: 'jpg', sizeType: 'jpg' },
    matches: (b) => b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff,
  },
  {
    format: { mime: 'image/gif', ext: 'gif', sizeType: 'gif' },
    matches: (b) => ['GIF87a', 'GIF89a'].includes(ascii(b, 0, 6)),
  },
  {
    format: { mime: 'image/webp', ext: 'webp', sizeType: 'webp' },
    matches: (b) => ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP',
  },
];

/** The format named by the file's leading bytes, or null (file names and declared types are never read). */
export function detectImageFormat(bytes: Buffer): ImageFormat | null {
  return FORMATS.find((f) => f.matches(bytes))?.format ?? null;
}

/**
 * A PNG's chunks must chain from IHDR to IEND with valid CRCs: this catches truncated and bit-flipped uploads
 * that a header-only size reader would accept.
 */
function pngChunksIntact(bytes: Buffer): boolean {
  let offset = 8;
  let first = true;
  while (offset + 12 <= bytes.length) {
    const length = bytes.readUInt32BE(offset);
    const end = offset + 12 + length;
    if (end > bytes.length) {
      return false;
    }
    const type = ascii(bytes, offset + 4, offset + 8);
    if (
      (first && type !== 'IHDR') ||
      crc32(bytes.subarray(offset + 4, end - 4)) !== bytes.readUInt32BE(end - 4)
    ) {
      return false;
    }
    if (type === 'IEND') {
      return true;
    }
    first = false;
    offset = end;
  }
  return false;
}

/** The RIFF container must be as long as its header says. */
const webpContainerIntact = (bytes: Buffer): boolean =>
  bytes.length >= 12 && bytes.readUInt32LE(4) + 8 <= bytes.length;

const STRUCTURE_CHECKS: Partial<Record<ImageMimeType, (bytes: Buffer) => boolean>> = {
  'image/png': pngChunksIntact,
  'image/webp': webpContainerIntact,
};

function readSize(bytes: Buffer, format: ImageFormat): { width: number; height: number } | null {
  try {
    // image-size (2.1) reads through `new DataView(input.buffer, input.byteOffset + offset)`, bounded by the
    // underlying memory, not by the Buffer: a truncated file in a slice of a larger allocation (Node's shared
    // pool holds small Buffers) would take its dimensions from whatever bytes follow it there. So it gets memory
    // that ends where the file does, and reading past the end throws instead.
    const own = bytes.byteOffset === 0 && bytes.buffer.byteLength === bytes.length ? bytes : new Uint8Array(bytes);
    const size = imageSize(own);
    return size.type === format.sizeType ? size : null;
  } catch {
    // image-size throws (TypeError, RangeError) on anything it cannot parse; that is the answer, not a fault.
    return null;
  }
}

const invalid = (status: HttpStatus, code: string, message: string): ApiError =>
  new ApiError(status, code, message, [{ field: 'file', message }]);

/**
 * What an uploaded file really is: png, jpeg, webp or gif by magic bytes (else 415), with dimensions read
 * from the file (unreadable or corrupt: 400; wider or taller than 16384 pixels: 400).
 */
export function probeImage(bytes: Buffer): ProbedImage {
  const format = detectImageFormat(bytes);
  if (!format) {
    throw invalid(
      HttpStatus.UNSUPPORTED_MEDIA_TYPE,
      'UNSUPPORTED_MEDIA_TYPE',
      'file must be a PNG, JPEG, WebP or GIF image',
    );
  }
  const size = readSize(bytes, format);
  const intact = STRUCTURE_CHECKS[format.mime]?.(bytes) ?? true;
  if (
    !size ||
    !intact ||
    !Number.isInteger(size.width) ||
    !Number.isInteger(size.height) ||
    size.width < 1 ||
    size.height < 1
  ) {
    throw invalid(
      HttpStatus.BAD_REQUEST,
      'INVALID_IMAGE',
      `file is not a readable ${format.ext.toUpperCase()} image`,
    );
  }
  if (size.width > MAX_IMAGE_DIMENSION || size.height > MAX_IMAGE_DIMENSION) {
    throw invalid(
      HttpStatus.BAD_REQUEST,
      'IMAGE_DIMENSIONS_TOO_LARGE',
      `file is ${size.width}x${size.height}; width and height must be at most ${MAX_IMAGE_DIMENSION}`,
    );
  }
  return { mime: format.mime, ext: format.ext, width: size.width, height: size.height };
}
