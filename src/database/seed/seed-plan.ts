import { SeededRandom } from './random';
import { NAME_SYLLABLES, TAGS, WORDS } from './vocabulary';

export interface SeedOptions {
  users: number;
  characters: number;
  images: number;
  seed: number;
}

export interface SeedUserRow {
  id: string;
  username: string;
  email: string;
  role: 'user' | 'admin';
  showNsfw: boolean;
  tier: 'free' | 'plus' | 'pro';
  createdAt: Date;
}

export interface SeedCharacterRow {
  id: string;
  ownerId: string;
  name: string;
  description: string;
  tags: string[];
  visibility: 'public' | 'unlisted' | 'private';
  nsfw: boolean;
  premium: boolean;
  featuredRank: number | null;
  createdAt: Date;
}

export interface SeedImageRow {
  id: string;
  ownerId: string;
  characterId: string;
  storageKey: string;
  width: number;
  height: number;
  bytes: number;
  nsfw: boolean;
  createdAt: Date;
}

const DAY_MS = 86_400_000;
// A fixed epoch keeps the data set identical from one run to the next.
const EPOCH = Date.UTC(2026, 0, 1);

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function makeName(rnd: SeededRandom): string {
  const parts = 2 + rnd.int(2);
  const first = Array.from({ length: parts }, () => rnd.pick(NAME_SYLLABLES)).join('');
  return `${capitalize(first)} ${capitalize(rnd.pick(NAME_SYLLABLES) + rnd.pick(NAME_SYLLABLES))}`;
}

function makeDescription(rnd: SeededRandom): string {
  const words: string[] = [];
  let length = 0;
  const target = 260 + rnd.int(80);
  while (length < target) {
    const word = rnd.pick(WORDS);
    words.push(word);
    length += word.length + 1;
  }
  return `${capitalize(words.join(' '))}.`;
}

function makeTags(rnd: SeededRandom): string[] {
  const count = 1 + rnd.int(4);
  const tags = new Set<string>();
  while (tags.size < count) {
    tags.add(TAGS[rnd.skewed(TAGS.length)]);
  }
  return [...tags];
}

/**
 * Builds a realistic, deterministic data set in memory: skewed tags and image counts, and a mix of nsfw,
 * premium, featured, unlisted and private characters. The first user is an admin.
 */
export function planSeed(options: SeedOptions): {
  users: SeedUserRow[];
  characters: SeedCharacterRow[];
  images: SeedImageRow[];
} {
  if (options.characters > 0 && options.users < 1) {
    throw new RangeError('characters need owners: seed at least one user');
  }
  if (options.images > 0 && options.characters < 1) {
    throw new RangeError('images belong to characters: seed at least one character');
  }
  const rnd = new SeededRandom(options.seed);
  const users: SeedUserRow[] = Array.from({ length: options.users }, (_, i) => ({
    id: rnd.uuid(),
    username: i === 0 ? 'admin' : `user_${i}`,
    email: i === 0 ? 'admin@example.com' : `user_${i}@example.com`,
    role: i === 0 ? 'admin' : 'user',
    showNsfw: rnd.chance(0.3),
    tier: rnd.chance(0.15) ? (rnd.chance(0.5) ? 'pro' : 'plus') : 'free',
    createdAt: new Date(EPOCH - rnd.int(365) * DAY_MS),
  }));

  let featuredRank = 0;
  const characters: SeedCharacterRow[] = Array.from({ length: options.characters }, () => {
    const visibilityRoll = rnd.next();
    const visibility = visibilityRoll < 0.85 ? 'public' : visibilityRoll < 0.95 ? 'unlisted' : 'private';
    const featured = visibility === 'public' && rnd.chance(0.02);
    return {
      id: rnd.uuid(),
      ownerId: users[rnd.skewed(users.length)].id,
      name: makeName(rnd),
      description: makeDescription(rnd),
      tags: makeTags(rnd),
      visibility,
      nsfw: rnd.chance(0.1),
      premium: rnd.chance(0.1),
      featuredRank: featured ? ++featuredRank : null,
      createdAt: new Date(EPOCH - rnd.int(365 * 24) * 3_600_000),
    };
  });

  const images: SeedImageRow[] = [];
  for (let i = 0; i < options.images && characters.length > 0; i++) {
    const character = characters[rnd.skewed(characters.length, 0.8)];
    const id = rnd.uuid();
    images.push({
      id,
      ownerId: character.ownerId,
      characterId: character.id,
      storageKey: `seed/${character.id}/${id}.webp`,
      width: 512 + 64 * rnd.int(9),
      height: 512 + 64 * rnd.int(13),
      bytes: 40_000 + rnd.int(400_000),
      nsfw: character.nsfw || rnd.chance(0.05),
      createdAt: new Date(character.createdAt.getTime() + rnd.int(30 * 24) * 3_600_000),
    });
  }
  return { users, characters, images };
}
