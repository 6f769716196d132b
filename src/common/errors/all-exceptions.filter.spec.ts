import { BadRequestException, NotFoundException } from '@nestjs/common';
import { QueryFailedError } from 'typeorm';
import { ApiError } from './api-error';
import { toErrorBody } from './all-exceptions.filter';

describe('toErrorBody', () => {
  it('passes our own errors through unchanged', () => {
    const body = toErrorBody(ApiError.badRequest('page', 'page must be positive'));
    expect(body).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'VALIDATION_FAILED',
      message: 'page must be positive',
      details: [{ field: 'page', message: 'page must be positive' }],
    });
  });

  it('gives Nest exceptions a stable code from their status', () => {
    expect(toErrorBody(new NotFoundException('Cannot GET /x'))).toMatchObject({ statusCode: 404, code: 'NOT_FOUND' });
    expect(toErrorBody(new BadRequestException())).toMatchObject({ statusCode: 400, code: 'BAD_REQUEST' });
  });

  it('maps PostgreSQL input errors to 4xx and hides everything else behind a 500', () => {
    const unique = new QueryFailedError('INSERT', [], Object.assign(new Error('dup'), { code: '23505' }));
    expect(toErrorBody(unique)).toMatchObject({ statusCode: 409, code: 'CONFLICT' });
    const broken = new QueryFailedError('SELECT', [], Object.assign(new Error('boom'), { code: '58000' }));
    expect(toErrorBody(broken)).toEqual({
      statusCode: 500,
      error: 'Internal Server Error',
      code: 'INTERNAL_ERROR',
      message: 'Internal server error',
    });
    expect(toErrorBody(new Error('secret detail'))).toMatchObject({ statusCode: 500, message: 'Internal server error' });
  });

  it('maps a NOT NULL violation to a 400 naming the column when the driver says which', () => {
    const notNull = (column?: string) =>
      new QueryFailedError('UPDATE', [], Object.assign(new Error('null value'), { code: '23502', column }));
    expect(toErrorBody(notNull('nsfw'))).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'BAD_REQUEST',
      message: 'A required value is missing',
      details: [{ field: 'nsfw', message: 'nsfw must not be null' }],
    });
    expect(toErrorBody(notNull())).toEqual({
      statusCode: 400,
      error: 'Bad Request',
      code: 'BAD_REQUEST',
      message: 'A required value is missing',
    });
  });

  it('maps Fastify client errors by code', () => {
    const tooLarge = Object.assign(new Error('x'), { code: 'FST_REQ_FILE_TOO_LARGE', statusCode: 413 });
    expect(toErrorBody(tooLarge)).toMatchObject({ statusCode: 413, code: 'PAYLOAD_TOO_LARGE' });
  });
});
