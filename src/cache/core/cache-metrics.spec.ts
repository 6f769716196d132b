import { CacheMetrics, tagGroup } from './cache-metrics';

describe('tag groups (the label of cache_tag_invalidations_total)', () => {
  it('is the word before the first colon, never what follows it', () => {
    expect(tagGroup('character:42')).toBe('character');
    expect(tagGroup('chl:mode:popular')).toBe('chl');
    expect(tagGroup('ns:characters:list')).toBe('ns');
    expect(tagGroup('gallery:0b6f…')).toBe('gallery');
  });

  it('is `other` when there is no such word: no id, user input or long text becomes a label', () => {
    for (const tag of ['42', 'featured', ':42', '42:x', 'a b:1', `${'x'.repeat(33)}:1`, 'ü:1', '']) {
      expect(tagGroup(tag)).toBe('other');
    }
  });

  it('counts each tag of an invalidation once, by group', () => {
    const metrics = new CacheMetrics();
    const seen: [string, Record<string, string>, number][] = [];
    metrics.subscribe((event, labels, value) => seen.push([event, labels, value]));
    metrics.tagsInvalidated(['character:1', 'character:2', 'chl:public']);
    expect([...metrics.tagInvalidations]).toEqual([
      ['character', 2],
      ['chl', 1],
    ]);
    expect(seen).toEqual([
      ['tag_invalidation', { group: 'character' }, 1],
      ['tag_invalidation', { group: 'character' }, 1],
      ['tag_invalidation', { group: 'chl' }, 1],
    ]);
  });
});
