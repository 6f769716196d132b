import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn, UpdateDateColumn } from 'typeorm';

export const GENERATION_STATUSES = ['queued', 'running', 'succeeded', 'failed'] as const;
export type GenerationStatus = (typeof GENERATION_STATUSES)[number];

export interface GeneratedImage {
  storageKey: string;
  width: number;
  height: number;
}

export interface GenerationResult {
  images: GeneratedImage[];
  seed: number | null;
  model: string | null;
  error: string | null;
}

@Entity({ name: 'generation_jobs' })
export class GenerationJob {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'owner_id', type: 'uuid' })
  ownerId: string;

  @Column({ name: 'character_id', type: 'uuid' })
  characterId: string;

  @Column({ type: 'varchar', length: 2000 })
  prompt: string;

  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  parameters: Record<string, unknown>;

  @Column({ type: 'varchar', length: 16, default: 'queued' })
  status: GenerationStatus;

  @Column({ type: 'jsonb', nullable: true })
  result: GenerationResult | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
