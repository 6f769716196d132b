export interface Payload {
  /** `1KB` or `14KB`: the label used in keys, tables and results. */
  label: string;
  value: unknown;
  /** Bytes of `JSON.stringify(value)`. */
  bytes: number;
}

/** The card the list and detail endpoints return (the fields a client renders). */
export interface CharacterCard {
  id: string;
  owner: { id: string; username: string };
  name: string;
  description: string;
  tags: string[];
  avatarUrl: string;
  visibility: 'public' | 'unlisted' | 'private';
  nsfw: boolean;
  premium: boolean;
  featured: boolean;
  imageCount: number;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export interface CharacterPage {
  items: CharacterCard[];
  page: number;
  pageSize: number;
  total: number;
}

/** A fixed-seed generator: every run, and every system within a run, sees the very same bytes. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1_664_525 + 1_013_904_223) >>> 0;
    return state / 2 ** 32;
  };
}

const WORDS = (
  'wandering knight archivist of the sunken library who trades riddles for maps and keeps a ledger of every ' +
  'promise broken in the harbour city sharp tongue soft heart fond of storms tea and forbidden astronomy'
).split(' ');
const TAGS = [
  'fantasy',
  'sci-fi',
  'romance',
  'mystery',
  'horror',
  'comedy',
  'adventure',
  'slice-of-life',
  'historical',
  'drama',
];

function uuid(random: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16)).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20)}`;
}

function sentence(random: () => number, length: number): string {
  let text = '';
  while (text.length < length) {
    text += `${text ? ' ' : ''}${WORDS[Math.floor(random() * WORDS.length)]}`;
  }
  return `${text.slice(0, length - 1)}.`;
}

function card(random: () => number, i: number, descriptionLength: number): CharacterCard {
  const created = Date.UTC(2025, 0, 1) + Math.floor(random() * 300) * 86_400_000;
  return {
    id: uuid(random),
    owner: { id: uuid(random), username: `creator_${1000 + i}` },
    name: `Character ${i} the ${WORDS[i % WORDS.length]}`,
    description: sentence(random, descriptionLength),
    tags: TAGS.filter(() => random() < 0.3),
    avatarUrl: `https://cdn.example.com/i/${uuid(random)}.webp`,
    visibility: 'public',
    nsfw: random() < 0.1,
    premium: random() < 0.2,
    featured: i % 7 === 0,
    imageCount: Math.floor(random() * 40),
    createdAt: new Date(created).toISOString(),
    updatedAt: new Date(created + 3_600_000).toISOString(),
    version: 1 + Math.floor(random() * 5),
  };
}

/** One character as the detail endpoint returns it (~1 KB). */
export function oneCharacter(): CharacterCard {
  return card(seeded(1), 1, 540);
}

/** A page of 20 character cards as the list endpoint returns it (~14 KB). */
export function characterPage(): CharacterPage {
  const random = seeded(20);
  return {
    items: Array.from({ length: 20 }, (_, i) => card(random, i, 250)),
    page: 1,
    pageSize: 20,
    total: 4_812,
  };
}

export function payloads(): Payload[] {
  return [
    { label: '1KB', value: oneCharacter() },
    { label: '14KB', value: characterPage() },
  ].map((p) => ({ ...p, bytes: Buffer.byteLength(JSON.stringify(p.value)) }));
}
