import { Injectable, PipeTransform } from '@nestjs/common';
import { ApiError } from '../common/errors/api-error';

/** A `:username` path segment: the same 3-32 of [a-z0-9_] the register form enforces. */
@Injectable()
export class UsernameParamPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!/^[a-z0-9_]{3,32}$/.test(value)) {
      throw ApiError.badRequest('username', 'username must be 3-32 of a-z, 0-9 and _');
    }
    return value;
  }
}
