import { createParamDecorator, ExecutionContext, Injectable, PipeTransform } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import type { StorageConfig } from '../config';
import { ImageUpload, readImageUpload } from './image-upload';

/** Reads the multipart body of the request it is given (see {@link UploadedImage}). */
@Injectable()
export class ImageUploadPipe implements PipeTransform<FastifyRequest, Promise<ImageUpload>> {
  private readonly maxBytes: number;

  constructor(config: ConfigService) {
    this.maxBytes = config.getOrThrow<StorageConfig>('storage').maxUploadBytes;
  }

  transform(request: FastifyRequest): Promise<ImageUpload> {
    return readImageUpload(request, this.maxBytes);
  }
}

const RequestParam = createParamDecorator((_data: unknown, ctx: ExecutionContext) =>
  ctx.switchToHttp().getRequest<FastifyRequest>(),
);

/** The uploaded image (multipart field `file`, optional `nsfw`), read and shape-checked before the handler. */
export const UploadedImage = (): ParameterDecorator => RequestParam(ImageUploadPipe);
