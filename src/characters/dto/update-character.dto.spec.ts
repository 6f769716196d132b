import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { UpdateCharacterDto } from './update-character.dto';

describe('UpdateCharacterDto', () => {
  const invalid = (plain: object) =>
    validateSync(plainToInstance(UpdateCharacterDto, plain)).map((e) => e.property);

  it('accepts any field left out', () => {
    expect(invalid({})).toEqual([]);
    expect(invalid({ name: 'Renamed' })).toEqual([]);
  });

  it('refuses null in every field inherited from CreateCharacterDto', () => {
    const inherited = ['name', 'description', 'tags', 'visibility', 'nsfw', 'premium'];
    expect(invalid(Object.fromEntries(inherited.map((field) => [field, null])))).toEqual(inherited);
  });

  it('refuses null in its own fields, except those where null clears a value', () => {
    expect(invalid({ featured: null, version: null })).toEqual(['featured', 'version']);
    expect(invalid({ avatarImageId: null, featuredRank: null })).toEqual([]);
  });
});
