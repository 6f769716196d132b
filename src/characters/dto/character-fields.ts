import { applyDecorators } from '@nestjs/common';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, ArrayUnique, IsArray, IsString, Matches } from 'class-validator';
import { Omittable } from '../../common/http/omittable.decorator';

export const TAG_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;
export const TAG_MESSAGE = 'each tag must be 1-32 of a-z, 0-9 and -, starting with a letter or digit';

/** Tags are compared lower-case and trimmed, so "Fantasy " and "fantasy" are one tag. */
export const NormalizeTags = () =>
  Transform(({ value }) =>
    Array.isArray(value) ? value.map((t) => (typeof t === 'string' ? t.trim().toLowerCase() : t)) : value,
  );

/**
 * Trimmed and NFC-normalized: the search text is normalized the same way, so a name typed with decomposed accents
 * (`e` + U+0301) is found by `café`, sorts with it, and counts its characters as PostgreSQL shows them.
 */
/** NFC-normalized (see Trim), for text whose spacing is the author's. */
export const Nfc = () => Transform(({ value }) => (typeof value === 'string' ? value.normalize('NFC') : value));

export const Trim = () => Transform(({ value }) => (typeof value === 'string' ? value.normalize('NFC').trim() : value));

/** An optional list of up to 20 distinct tags, normalized. */
export const TagsField = (): PropertyDecorator =>
  applyDecorators(
    ApiPropertyOptional({ type: [String], maxItems: 20 }),
    Omittable(),
    NormalizeTags(),
    IsArray(),
    ArrayMaxSize(20),
    ArrayUnique(),
    IsString({ each: true }),
    Matches(TAG_PATTERN, { each: true, message: TAG_MESSAGE }),
  );
