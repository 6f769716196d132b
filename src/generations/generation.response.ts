import type { GenerationJob, GenerationStatus } from './entities/generation-job.entity';

export interface GeneratedImageResponse {
  url: string;
  width: number;
  height: number;
}

export interface GenerationResultResponse {
  images: GeneratedImageResponse[];
  seed: number | null;
  model: string | null;
  error: string | null;
}

/** The shape every generation read returns. */
export interface GenerationResponse {
  id: string;
  characterId: string;
  status: GenerationStatus;
  prompt: string;
  parameters: Record<string, unknown>;
  result: GenerationResultResponse | null;
  createdAt: string;
  updatedAt: string;
}

/**
 * What the viewer-independent load yields: the response plus the owner the access check needs. Plain data, so
 * it can be cached by job id and checked against each viewer afterwards.
 */
export interface GenerationRecord {
  ownerId: string;
  generation: GenerationResponse;
}

export function toGenerationRecord(
  job: GenerationJob,
  imageUrl: (storageKey: string) => string,
): GenerationRecord {
  const { result } = job;
  return {
    ownerId: job.ownerId,
    generation: {
      id: job.id,
      characterId: job.characterId,
      status: job.status,
      prompt: job.prompt,
      parameters: job.parameters,
      result: result && {
        images: result.images.map((image) => ({
          url: imageUrl(image.storageKey),
          width: image.width,
          height: image.height,
        })),
        seed: result.seed,
        model: result.model,
        error: result.error,
      },
      createdAt: job.createdAt.toISOString(),
      updatedAt: job.updatedAt.toISOString(),
    },
  };
}
