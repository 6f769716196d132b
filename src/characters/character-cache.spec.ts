import { characterTag, characterWriteTags, ListFacts, mineTag, modeTag, PUBLIC_LISTS, SEARCH_LISTS, tagFilterTag } from './character-cache';

const base: ListFacts = {
  id: 'c1',
  ownerId: 'o1',
  name: 'Kaira',
  description: 'pilot',
  tags: ['sci-fi'],
  visibility: 'public',
  nsfw: false,
  premium: false,
  featured: false,
  featuredRank: null,
  imageCount: 0,
};
const tagsFor = (after: Partial<ListFacts> | null, before: Partial<ListFacts> | null = {}) =>
  characterWriteTags(before && { ...base, ...before }, after && { ...base, ...after }).sort();

describe('characterWriteTags', () => {
  it('always reaches the character (detail and every list showing it) and its owner’s lists', () => {
    // A private character stays private: no public list can change.
    expect(tagsFor({ visibility: 'private', description: 'x' }, { visibility: 'private' })).toEqual(
      [characterTag('c1'), mineTag('o1')].sort(),
    );
  });

  it('reaches every public list when membership can change', () => {
    expect(tagsFor({})).toContain(characterTag('c1'));
    for (const change of [{ visibility: 'unlisted' }, { nsfw: true }, { premium: true }]) {
      expect(tagsFor(change)).toContain(PUBLIC_LISTS);
    }
    expect(tagsFor({}, null)).toContain(PUBLIC_LISTS);
    expect(tagsFor(null)).toContain(PUBLIC_LISTS);
  });

  it('reaches only the lists whose order or filter a change affects', () => {
    expect(tagsFor({ name: 'Zed' })).toEqual([characterTag('c1'), modeTag('all'), mineTag('o1'), SEARCH_LISTS].sort());
    expect(tagsFor({ description: 'new' })).toEqual([characterTag('c1'), mineTag('o1'), SEARCH_LISTS].sort());
    expect(tagsFor({ imageCount: 3 })).toContain(modeTag('popular'));
    expect(tagsFor({ featured: true, featuredRank: 1 })).toContain(modeTag('featured'));
    expect(tagsFor({ tags: ['fantasy'] })).toEqual(
      expect.arrayContaining([tagFilterTag('sci-fi'), tagFilterTag('fantasy')]),
    );
    expect(tagsFor({ description: 'new' })).not.toContain(PUBLIC_LISTS);
  });
});
