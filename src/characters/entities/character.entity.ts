import {
  Column,
  CreateDateColumn,
  Entity,
 
  JoinColumn,
  ManyToOne,
  PrimaryGeneratedColumn,
  UpdateDateColumn,
  VersionColumn,
} from 'typeorm';
import { User } from '../../users/entities/user.entity';

export const VISIBILITIES = ['public', 'unlisted', 'private'] as const;
export type Visibility = (typeof VISIBILITIES)[number];

/** List indexes are created by the migration (partial and expression indexes TypeORM cannot describe). */
@Entity({ name: 'characters' })
export class Character {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'owner_id', type: 'uuid' })
  ownerId: string;

  @ManyToOne(() => User, { onDelete: 'CASCADE' })
  @JoinColumn({ name: 'owner_id' })
  owner?: User;

  @Column({ type: 'varchar', length: 80 })
  name: string;

  @Column({ type: 'varchar', length: 2000, default: '' })
  description: string;

  @Column({ type: 'text', array: true, default: () => "'{}'" })
  tags: string[];

  @Column({ name: 'avatar_image_id', type: 'uuid', nullable: true })
  avatarImageId: string | null;

  @Column({ type: 'varchar', length: 16, default: 'public' })
  visibility: Visibility;

  @Column({ type: 'boolean', default: false })
  nsfw: boolean;

  @Column({ type: 'boolean', default: false })
  premium: boolean;

  @Column({ type: 'boolean', default: false })
  featured: boolean;

  @Column({ name: 'featured_rank', type: 'integer', nullable: true })
  featuredRank: number | null;

  @Column({ name: 'image_count', type: 'integer', default: 0 })
  imageCount: number;

  /** Images that are not nsfw: the count shown to viewers who do not see nsfw images (see CharacterView). */
  @Column({ name: 'sfw_image_count', type: 'integer', default: 0 })
  sfwImageCount: number;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @UpdateDateColumn({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;

  @VersionColumn({ default: 1 })
  version: number;
}
