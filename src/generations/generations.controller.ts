import { Body, Controller, Get, HttpCode, HttpStatus, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentUser } from '../auth/auth.decorators';
import type { Viewer } from '../auth/viewer';
import { UuidParam } from '../common/http/uuid-param.decorator';
import { CreateGenerationDto } from './dto/create-generation.dto';
import type { GenerationResponse } from './generation.response';
import { GenerationsService } from './generations.service';

@ApiTags('generations')
@ApiBearerAuth()
@Controller()
export class GenerationsController {
  constructor(private readonly generations: GenerationsService) {}

  /** 202: the job is accepted; its result arrives later through the generator's callback. */
  @Post('characters/:id/generations')
  @HttpCode(HttpStatus.ACCEPTED)
  create(
    @UuidParam('id') characterId: string,
    @Body() dto: CreateGenerationDto,
    @CurrentUser() viewer: Viewer,
  ): Promise<GenerationResponse> {
    return this.generations.create(characterId, dto, viewer);
  }

  @Get('generations/:jobId')
  get(@UuidParam('jobId') jobId: string, @CurrentUser() viewer: Viewer): Promise<GenerationResponse> {
    return this.generations.get(jobId, viewer);
  }
}
