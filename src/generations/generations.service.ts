import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { DataSource, Repository } from 'typeorm';
import { isAdmin, Viewer } from '../auth/viewer';
import { Cacheable, CacheEvict } from '../cache';
import { CharactersService } from '../characters/characters.service';
import { ApiError } from '../common/errors/api-error';
import { CdnUrlBuilder } from '../storage/cdn-url.builder';
import { CreateGenerationDto } from './dto/create-generation.dto';
import { GenerationCallbackDto } from './dto/generation-callback.dto';
import { GenerationJob, GenerationResult } from './entities/generation-job.entity';
import { generationTag } from './generation-cache';
import { GenerationRecord, GenerationResponse, toGenerationRecord } from './generation.response';
import { DispatchOutcome, GeneratorClient } from './generator.client';

const notFound = () => ApiError.notFound('Generation');

@Injectable()
export class GenerationsService {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @InjectRepository(GenerationJob) private readonly jobs: Repository<GenerationJob>,
    private readonly characters: CharactersService,
    private readonly generator: GeneratorClient,
    private readonly cdn: CdnUrlBuilder,
  ) {}

  /**
   * Queues a job on a character the viewer may change (404 when they cannot see it, 403 when they see but do not
   * own it), then hands it to the generator when one is configured. The HTTP call runs after the commit, so no
   * lock or connection is held while the generator answers; it is bounded by its own timeout.
   */
  async create(characterId: string, dto: CreateGenerationDto, viewer: Viewer): Promise<GenerationResponse> {
    const parameters = definedOnly(dto.parameters ?? {});
    const jobId = await this.db.transaction(async (m) => {
      await this.characters.findWritable(characterId, viewer, m);
      const job = await m.save(
        m.create(GenerationJob, { ownerId: viewer.userId!, characterId, prompt: dto.prompt, parameters }),
      );
      return job.id;
    });
    if (this.generator.configured) {
      const outcome = await this.generator.dispatch({ jobId, characterId, prompt: dto.prompt, parameters });
      await this.recordDispatch(jobId, outcome);
    }
    return this.loadOrFail(jobId);
  }

  /** A job for its owner or an admin; anyone else gets the same 404 as for a missing id. */
  async get(jobId: string, viewer: Viewer): Promise<GenerationResponse> {
    const record = await this.load(jobId);
    if (!record || (record.ownerId !== viewer.userId && !isAdmin(viewer))) {
      throw notFound();
    }
    return record.generation;
  }

  /** One job as stored, or null: cached by job id (`images:generation:{job_id}`), evicted on every status change. */
  @Cacheable({
    namespace: 'images:generation',
    scope: 'public',
    key: (jobId: string) => [jobId],
    ttl: '1h',
    grace: '1h',
    cacheNull: '10s',
    argTags: (jobId: string) => [generationTag(jobId)],
  })
  async load(jobId: string): Promise<GenerationRecord | null> {
    const job = await this.jobs.findOneBy({ id: jobId });
    return job ? toGenerationRecord(job, (key) => this.cdn.url(key)) : null;
  }

  /**
   * Records the generator's result on a job that is still queued or running. The check and the write are one
   * UPDATE, so of two concurrent deliveries exactly one applies; a job already finished is left as it is.
   */
  @CacheEvict({ tags: (_r: { applied: boolean } | undefined, jobId: string) => [generationTag(jobId)] })
  async applyCallback(jobId: string, dto: GenerationCallbackDto): Promise<{ applied: boolean }> {
    const result: GenerationResult = {
      images: (dto.images ?? []).map(({ storageKey, width, height }) => ({ storageKey, width, height })),
      seed: dto.seed ?? null,
      model: dto.model ?? null,
      error: dto.error ?? null,
    };
    const update = await this.jobs
      .createQueryBuilder()
      .update()
      .set({ status: dto.status, result })
      .where('id = :id', { id: jobId })
      .andWhere(`status IN ('queued', 'running')`)
      .execute();
    if ((update.affected ?? 0) > 0) {
      return { applied: true };
    }
    if (!(await this.jobs.existsBy({ id: jobId }))) {
      throw notFound();
    }
    return { applied: false };
  }

  /** Only a job still queued moves on: a fast generator's callback may already have finished it. */
  @CacheEvict({ tags: (_r: void | undefined, jobId: string) => [generationTag(jobId)] })
  async recordDispatch(jobId: string, outcome: DispatchOutcome): Promise<void> {
    await this.jobs
      .createQueryBuilder()
      .update()
      .set(
        outcome.accepted
          ? { status: 'running' }
          : { status: 'failed', result: { images: [], seed: null, model: null, error: outcome.reason } },
      )
      .where('id = :id', { id: jobId })
      .andWhere(`status = 'queued'`)
      .execute();
  }

  private async loadOrFail(jobId: string): Promise<GenerationResponse> {
    const record = await this.load(jobId);
    if (!record) {
      throw notFound();
    }
    return record.generation;
  }
}

/** The validated DTO as a plain object without the keys the client left out. */
function definedOnly(value: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));
}
