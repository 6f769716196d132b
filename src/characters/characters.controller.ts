import { Body, Controller, Delete, Get, Headers, HttpCode, Patch, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Public } from '../auth/auth.decorators';
import type { Viewer } from '../auth/viewer';
import { parseIfMatch } from '../common/http/if-match';
import type { Page } from '../common/http/page';
import { UuidParam } from '../common/http/uuid-param.decorator';
import { ReplayFromCache } from '../http-cache/replay-from-cache.decorator';
import type { CharacterResponse } from './character.response';
import { CharactersService } from './characters.service';
import { BulkUpdateDto } from './dto/bulk-update.dto';
import { CreateCharacterDto } from './dto/create-character.dto';
import { ListCharactersQuery } from './dto/list-characters.query';
import { UpdateCharacterDto } from './dto/update-character.dto';

@ApiTags('characters')
@ApiBearerAuth()
@Controller('characters')
export class CharactersController {
  constructor(private readonly characters: CharactersService) {}

  @Public()
  @ReplayFromCache()
  @Get()
  list(@Query() query: ListCharactersQuery, @CurrentUser() viewer: Viewer): Promise<Page<CharacterResponse>> {
    return this.characters.list(query, viewer);
  }

  @Public()
  @ReplayFromCache()
  @Get('featured')
  featured(@CurrentUser() viewer: Viewer): Promise<{ items: CharacterResponse[] }> {
    return this.characters.featured(viewer);
  }

  @Public()
  @ReplayFromCache()
  @Get(':id')
  get(@UuidParam('id') id: string, @CurrentUser() viewer: Viewer): Promise<CharacterResponse> {
    return this.characters.get(id, viewer);
  }

  /** Writes answer with the character as readers now see it, and its ETag (see HttpCacheInterceptor). */
  @Post()
  create(@Body() dto: CreateCharacterDto, @CurrentUser() viewer: Viewer): Promise<CharacterResponse> {
    return this.characters.create(dto, viewer);
  }

  @Post('bulk')
  @HttpCode(200)
  bulk(@Body() dto: BulkUpdateDto, @CurrentUser() viewer: Viewer): Promise<{ updated: number; items: { id: string; version: number }[] }> {
    return this.characters.bulkUpdate(dto, viewer);
  }

  @Patch(':id')
  @ApiHeader({
    name: 'If-Match',
    required: false,
    description: 'The ETag or the version last read, e.g. "3"; a comma-separated list matches if any member does; * if it exists. A weak ETag (W/"…") never matches (412)',
  })
  update(
    @UuidParam('id') id: string,
    @Body() dto: UpdateCharacterDto,
    @Headers('if-match') ifMatch: string | undefined,
    @CurrentUser() viewer: Viewer,
  ): Promise<CharacterResponse> {
    return this.characters.update(id, dto, viewer, parseIfMatch(ifMatch));
  }

  @Delete(':id')
  @HttpCode(204)
  remove(@UuidParam('id') id: string, @CurrentUser() viewer: Viewer): Promise<void> {
    return this.characters.remove(id, viewer);
  }
}
