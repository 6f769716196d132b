import { Controller, Delete, Get, HttpCode, Param, Post, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiBody, ApiConsumes, ApiTags } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentUser, Public } from '../auth/auth.decorators';
import type { Viewer } from '../auth/viewer';
import { AcceptsMultipart } from '../common/http/body-types';
import { Page, PageQuery } from '../common/http/page';
import { UuidParam } from '../common/http/uuid-param.decorator';
import { ReplayFromCache } from '../http-cache/replay-from-cache.decorator';
import { UsernameParamPipe } from '../users/username-param.pipe';
import type { ImageResponse } from './image.response';
import type { ImageUpload } from './image-upload';
import { ImageWritesService } from './image-writes.service';
import { ImagesService } from './images.service';
import { UploadedImage } from './uploaded-image.decorator';

const PRELOADED = 3;

const preloadLinks = (images: readonly ImageResponse[]): string =>
  images
    .slice(0, PRELOADED)
    .map((image) => `<${image.variants.card}>; rel=preload; as=image`)
    .join(', ');

const UPLOAD_BODY = {
  schema: {
    type: 'object',
    required: ['file'],
    properties: {
      file: {
        type: 'string',
        format: 'binary',
        description: 'PNG, JPEG, WebP or GIF (detected from the bytes)',
      },
      nsfw: { type: 'string', enum: ['true', 'false'], default: 'false' },
    },
  },
};

@ApiTags('images')
@ApiBearerAuth()
@Controller()
export class ImagesController {
  constructor(
    private readonly images: ImagesService,
    private readonly writes: ImageWritesService,
  ) {}

  /** The first images of a gallery are announced as preloads, so the browser fetches them with the JSON. */
  @Public()
  @ReplayFromCache({ headers: ['link'] })
  @Get('characters/:id/images')
  async listForCharacter(
    @UuidParam('id') id: string,
    @Query() query: PageQuery,
    @CurrentUser() viewer: Viewer,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<Page<ImageResponse>> {
    const page = await this.images.listForCharacter(id, query, viewer);
    if (page.items.length > 0) {
      void reply.header('Link', preloadLinks(page.items));
    }
    return page;
  }

  @Public()
  @ReplayFromCache()
  @Get('users/:username/characters/:characterId/images')
  listForUploader(
    @Param('username', UsernameParamPipe) username: string,
    @UuidParam('characterId') characterId: string,
    @Query() query: PageQuery,
    @CurrentUser() viewer: Viewer,
  ): Promise<Page<ImageResponse>> {
    return this.images.listForUploader(username, characterId, query, viewer);
  }

  @Public()
  @ReplayFromCache()
  @Get('images/:id')
  get(@UuidParam('id') id: string, @CurrentUser() viewer: Viewer): Promise<ImageResponse> {
    return this.images.get(id, viewer);
  }

  @Post('characters/:id/images')
  @AcceptsMultipart()
  @ApiConsumes('multipart/form-data')
  @ApiBody(UPLOAD_BODY)
  upload(
    @UuidParam('id') id: string,
    @UploadedImage() upload: ImageUpload,
    @CurrentUser() viewer: Viewer,
  ): Promise<ImageResponse> {
    return this.writes.upload(id, upload, viewer);
  }

  @Delete('images/:id')
  @HttpCode(204)
  remove(@UuidParam('id') id: string, @CurrentUser() viewer: Viewer): Promise<void> {
    return this.writes.remove(id, viewer);
  }
}
