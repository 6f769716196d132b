import type { Visibility } from './entities/character.entity';

/** The shape every character read and write returns (and the one that will be cached). */
export interface CharacterResponse {
  id: string;
  owner: { id: string; username: string };
  name: string;
  description: string;
  tags: string[];
  avatarImageId: string | null;
  avatarUrl: string | null;
  visibility: Visibility;
  nsfw: boolean;
  premium: boolean;
  featured: boolean;
  featuredRank: number | null;
  /** The images of it this viewer can open: nsfw ones count only for those who see them (see CharacterView). */
  imageCount: number;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** Columns selected for a character response, as raw aliases. */
export interface CharacterRow {
  id: string;
  owner_id: string;
  owner_username: string;
  name: string;
  description: string;
  tags: string[];
  avatar_image_id: string | null;
  avatar_key: string | null;
  visibility: Visibility;
  nsfw: boolean;
  premium: boolean;
  featured: boolean;
  featured_rank: number | null;
  /** All images, or only those that are not nsfw: whichever the viewer sees (see CharacterView). */
  image_count: number;
  created_at: Date;
  updated_at: Date;
  version: number;
}

export function toCharacterResponse(row: CharacterRow, avatarUrl: (key: string | null) => string | null): CharacterResponse {
  return {
    id: row.id,
    owner: { id: row.owner_id, username: row.owner_username },
    name: row.name,
    description: row.description,
    tags: row.tags,
    avatarImageId: row.avatar_image_id,
    avatarUrl: avatarUrl(row.avatar_key),
    visibility: row.visibility,
    nsfw: row.nsfw,
    premium: row.premium,
    featured: row.featured,
    featuredRank: row.featured_rank,
    imageCount: row.image_count,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
    version: row.version,
  };
}
