import { HttpException, HttpStatus } from '@nestjs/common';

export interface ErrorDetail {
  field: string;
  message: string;
}

/** The one error body every endpoint answers with. */
export interface ErrorBody {
  statusCode: number;
  error: string;
  code: string;
  message: string;
  details?: ErrorDetail[];
}

const REASONS: Record<number, [error: string, code: string]> = {
  400: ['Bad Request', 'BAD_REQUEST'],
  401: ['Unauthorized', 'UNAUTHORIZED'],
  403: ['Forbidden', 'FORBIDDEN'],
  404: ['Not Found', 'NOT_FOUND'],
  405: ['Method Not Allowed', 'METHOD_NOT_ALLOWED'],
  406: ['Not Acceptable', 'NOT_ACCEPTABLE'],
  408: ['Request Timeout', 'REQUEST_TIMEOUT'],
  409: ['Conflict', 'CONFLICT'],
  412: ['Precondition Failed', 'PRECONDITION_FAILED'],
  413: ['Payload Too Large', 'PAYLOAD_TOO_LARGE'],
  414: ['URI Too Long', 'URI_TOO_LONG'],
  415: ['Unsupported Media Type', 'UNSUPPORTED_MEDIA_TYPE'],
  422: ['Unprocessable Entity', 'UNPROCESSABLE_ENTITY'],
  428: ['Precondition Required', 'PRECONDITION_REQUIRED'],
  429: ['Too Many Requests', 'TOO_MANY_REQUESTS'],
  431: ['Request Header Fields Too Large', 'HEADERS_TOO_LARGE'],
  500: ['Internal Server Error', 'INTERNAL_ERROR'],
  502: ['Bad Gateway', 'BAD_GATEWAY'],
  503: ['Service Unavailable', 'SERVICE_UNAVAILABLE'],
};

export function reasonFor(status: number): [error: string, code: string] {
  return REASONS[status] ?? (status >= 500 ? REASONS[500] : REASONS[400]);
}

export function errorBody(status: number, code: string, message: string, details?: ErrorDetail[]): ErrorBody {
  return { statusCode: status, error: reasonFor(status)[0], code, message, ...(details ? { details } : {}) };
}

/** An HTTP exception that carries a stable machine-readable code (and, for bad input, the offending fields). */
export class ApiError extends HttpException {
  constructor(status: HttpStatus, code: string, message: string, details?: ErrorDetail[]) {
    super(errorBody(status, code, message, details), status);
  }

  static badRequest(field: string, message: string, code = 'VALIDATION_FAILED'): ApiError {
    return new ApiError(HttpStatus.BAD_REQUEST, code, message, [{ field, message }]);
  }

  static notFound(what: string): ApiError {
    return new ApiError(HttpStatus.NOT_FOUND, 'NOT_FOUND', `${what} not found`);
  }

  static forbidden(code: string, message: string): ApiError {
    return new ApiError(HttpStatus.FORBIDDEN, code, message);
  }

  static conflict(code: string, message: string, field?: string): ApiError {
    return new ApiError(HttpStatus.CONFLICT, code, message, field ? [{ field, message }] : undefined);
  }
}
