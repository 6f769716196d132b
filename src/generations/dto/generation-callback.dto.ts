import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsObject,
  IsString,
  Matches,
  Max,
  Min,
  ValidateBy,
  ValidateIf,
  ValidateNested,
} from 'class-validator';
import { CharLength } from '../../common/http/char-length.decorator';
import { Omittable } from '../../common/http/omittable.decorator';
import { GeneratedImageDto } from './generated-image.dto';

export const CALLBACK_STATUSES = ['succeeded', 'failed'] as const;
export type CallbackStatus = (typeof CALLBACK_STATUSES)[number];

/** The generator may name models we would not accept as input (vendor prefixes, upper case), within reason. */
const RESULT_MODEL_PATTERN = /^[A-Za-z0-9._:/-]+$/;

const NonEmptyWhenSucceeded = () =>
  ValidateBy({
    name: 'nonEmptyWhenSucceeded',
    validator: {
      validate: (value: unknown, args) =>
        (args?.object as GenerationCallbackDto).status !== 'succeeded' ||
        (Array.isArray(value) && value.length > 0),
      defaultMessage: () => 'a succeeded result needs at least one image',
    },
  });

/** A field the generator may leave out or send as null (what a Python `None` serializes to): both mean "not given". */
const absent = (value: unknown) => value === undefined || value === null;

/**
 * What the generator posts to the job's callback URL, /webhooks/generations/:jobId?token=… (signed: X-Signature:
 * sha256=<hex of the raw body>; the token ties the delivery to the job). Optional result fields may be null: a
 * machine's delivery refused for `"seed": null` would be retried and refused until the job is lost.
 */
export class GenerationCallbackDto {
  @ApiProperty({ enum: CALLBACK_STATUSES })
  @IsIn(CALLBACK_STATUSES)
  status: CallbackStatus;

  @ApiPropertyOptional({
    type: [GeneratedImageDto],
    maxItems: 16,
    description: 'At least one when succeeded',
  })
  @ValidateIf((o: GenerationCallbackDto) => o.status === 'succeeded' || !absent(o.images))
  @IsArray()
  @ArrayMaxSize(16)
  @IsObject({ each: true, message: 'each image must be an object' })
  @NonEmptyWhenSucceeded()
  @ValidateNested({ each: true })
  @Type(() => GeneratedImageDto)
  images?: GeneratedImageDto[] | null;

  @ApiPropertyOptional({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
  @Omittable({ nullable: true })
  @IsInt()
  @Min(0)
  @Max(Number.MAX_SAFE_INTEGER)
  seed?: number | null;

  @ApiPropertyOptional({ maxLength: 128 })
  @Omittable({ nullable: true })
  @IsString()
  @CharLength(0, 128)
  @Matches(RESULT_MODEL_PATTERN, {
    message: 'model must be 1-128 of A-Z, a-z, 0-9, ".", "_", ":", "/" and "-"',
  })
  model?: string | null;

  @ApiPropertyOptional({ maxLength: 500, description: 'Required when failed' })
  @ValidateIf((o: GenerationCallbackDto) => o.status === 'failed' || !absent(o.error))
  @IsString()
  @CharLength(1, 500)
  error?: string | null;
}
