import type { Multipart } from '@fastify/multipart';
import { HttpException, HttpStatus } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { ApiError } from '../common/errors/api-error';

export const FILE_FIELD = 'file';
export const NSFW_FIELD = 'nsfw';

/** One uploaded file as received: bytes not yet inspected, plus the form's nsfw flag. */
export interface ImageUpload {
  bytes: Buffer;
  nsfw: boolean;
}

const fileError = (status: HttpStatus, code: string, message: string): ApiError =>
  new ApiError(status, code, message, [{ field: FILE_FIELD, message }]);

const tooLarge = (maxBytes: number): ApiError =>
  fileError(HttpStatus.PAYLOAD_TOO_LARGE, 'PAYLOAD_TOO_LARGE', `file must be at most ${maxBytes} bytes`);
const tooManyFiles = (): ApiError =>
  fileError(HttpStatus.BAD_REQUEST, 'TOO_MANY_FILES', 'Send exactly one file');

/** @fastify/multipart and busboy failures as the API's errors (busboy's own errors are client mistakes too). */
function multipartError(error: unknown, maxBytes: number): HttpException {
  if (error instanceof HttpException) {
    return error;
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (code === 'FST_REQ_FILE_TOO_LARGE') {
    return tooLarge(maxBytes);
  }
  if (code === 'FST_FILES_LIMIT') {
    return tooManyFiles();
  }
  if (code === 'FST_PARTS_LIMIT' || code === 'FST_FIELDS_LIMIT') {
    return new ApiError(
      HttpStatus.BAD_REQUEST,
      'TOO_MANY_FIELDS',
      'The form has more fields than an upload takes',
    );
  }
  return new ApiError(
    HttpStatus.BAD_REQUEST,
    'MALFORMED_MULTIPART',
    'The multipart body could not be parsed',
  );
}

function parseNsfw(value: string | undefined): boolean {
  if (value === undefined || value === 'false') {
    return false;
  }
  if (value === 'true') {
    return true;
  }
  throw ApiError.badRequest(NSFW_FIELD, 'nsfw must be "true" or "false"');
}

/**
 * Reads a multipart upload: exactly one file in `file` and an optional `nsfw` flag, nothing else. Unexpected
 * fields are reported only once the body has been read to the end, so the client is never left mid-upload.
 */
export async function readImageUpload(request: FastifyRequest, maxBytes: number): Promise<ImageUpload> {
  if (!request.isMultipart()) {
    throw fileError(
      HttpStatus.UNSUPPORTED_MEDIA_TYPE,
      'UNSUPPORTED_MEDIA_TYPE',
      'Send the image as multipart/form-data',
    );
  }
  const problems: ApiError[] = [];
  let bytes: Buffer | undefined;
  let nsfw: string | undefined;
  const accept = async (part: Multipart): Promise<void> => {
    if (part.type === 'file') {
      const data = await part.toBuffer();
      if (part.file.truncated) {
        throw tooLarge(maxBytes);
      }
      if (part.fieldname !== FILE_FIELD) {
        problems.push(
          ApiError.badRequest(part.fieldname, `Unexpected file field; send the image in "${FILE_FIELD}"`),
        );
      } else if (bytes) {
        problems.push(tooManyFiles());
      } else {
        bytes = data;
      }
    } else if (part.fieldname !== NSFW_FIELD) {
      problems.push(ApiError.badRequest(part.fieldname, `${part.fieldname} is not an upload field`));
    } else if (nsfw !== undefined) {
      problems.push(ApiError.badRequest(NSFW_FIELD, 'nsfw must be sent once'));
    } else {
      nsfw = String(part.value);
    }
  };
  try {
    for await (const part of request.parts()) {
      await accept(part);
    }
  } catch (error) {
    throw problems[0] ?? multipartError(error, maxBytes);
  }
  if (problems.length > 0) {
    throw problems[0];
  }
  if (!bytes || bytes.length === 0) {
    throw fileError(
      HttpStatus.BAD_REQUEST,
      'VALIDATION_FAILED',
      `${FILE_FIELD} is required and must not be empty`,
    );
  }
  return { bytes, nsfw: parseNsfw(nsfw) };
}
