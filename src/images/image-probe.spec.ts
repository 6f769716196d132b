import { HttpException } from '@nestjs/common';
import { corruptPng, elf, gif, jpeg, png, webp, zip } from '../../test/support/images';
import { detectImageFormat, probeImage } from './image-probe';

const refusal = (bytes: Buffer): unknown => {
  try {
    probeImage(bytes);
  } catch (error) {
    return (error as HttpException).getResponse();
  }
  throw new Error('probeImage accepted the bytes');
};

describe('probeImage', () => {
  it.each([
    ['png', png(3, 2), { mime: 'image/png', ext: 'png', width: 3, height: 2 }],
    ['jpeg', jpeg(4, 3), { mime: 'image/jpeg', ext: 'jpg', width: 4, height: 3 }],
    ['gif', gif(2, 5), { mime: 'image/gif', ext: 'gif', width: 2, height: 5 }],
    ['webp', webp(), { mime: 'image/webp', ext: 'webp', width: 1, height: 1 }],
    ['png at the largest size', png(16_384, 1), { mime: 'image/png', ext: 'png', width: 16_384, height: 1 }],
  ])('reads a %s by its bytes', (_name, bytes, expected) => {
    expect(probeImage(bytes)).toEqual(expected);
  });

  it.each([
    ['text', Buffer.from('hello, I am a PNG, honestly')],
    ['a zip archive', zip()],
    ['an ELF executable', elf()],
    ['an SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')],
    ['a BMP', Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)])],
  ])('refuses %s with 415 naming file', (_name, bytes) => {
    expect(detectImageFormat(bytes)).toBeNull();
    expect(refusal(bytes)).toMatchObject({
      statusCode: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      details: [{ field: 'file' }],
    });
  });

  it.each([
    ['a png with a flipped pixel byte', corruptPng()],
    ['a truncated png', png().subarray(0, 40)],
    ['a png signature alone', png().subarray(0, 8)],
    [
      'a jpeg without a frame header',
      Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xd9]),
    ],
    ['a gif header alone', Buffer.from('GIF89a', 'latin1')],
    ['a webp whose RIFF is shorter than it claims', webp().subarray(0, 30)],
    ['a png of width 0', png(0, 1)],
  ])('refuses %s as an unreadable image (400 naming file)', (_name, bytes) => {
    expect(refusal(bytes)).toMatchObject({
      statusCode: 400,
      code: 'INVALID_IMAGE',
      details: [{ field: 'file' }],
    });
  });

  it('never reads dimensions from memory past the end of the file (a Buffer in a larger allocation)', () => {
    // A GIF header alone, followed in the same memory by bytes that would read as a 65535 x 65535 image.
    const header = Buffer.concat([Buffer.from('GIF89a', 'latin1'), Buffer.alloc(4, 0xff)]).subarray(0, 6);
    expect(header.buffer.byteLength).toBeGreaterThan(header.length);
    expect(refusal(header)).toMatchObject({ statusCode: 400, code: 'INVALID_IMAGE', details: [{ field: 'file' }] });
    // A whole image in such a slice is still read as it is.
    const whole = png(3, 2);
    const sliced = Buffer.concat([Buffer.alloc(5), whole, Buffer.alloc(7, 0xff)]).subarray(5, 5 + whole.length);
    expect(probeImage(sliced)).toMatchObject({ width: 3, height: 2 });
  });

  it('refuses an image wider than 16384 pixels', () => {
    expect(refusal(png(16_385, 1))).toMatchObject({
      statusCode: 400,
      code: 'IMAGE_DIMENSIONS_TOO_LARGE',
      details: [{ field: 'file' }],
    });
  });
});
