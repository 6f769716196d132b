import { ApiPropertyOptional, PartialType } from '@nestjs/swagger';
import { IsBoolean, IsInt, IsUUID, Max, Min } from 'class-validator';
import { Omittable } from '../../common/http/omittable.decorator';
import { LowerCaseUuid } from '../../common/http/uuid-param.decorator';
import { CreateCharacterDto } from './create-character.dto';

// skipNullProperties: false makes PartialType mark the inherited fields ValidateIf(v !== undefined), not
// IsOptional, so an explicit null is validated (a 400) like in CreateCharacterDto: see Omittable.
export class UpdateCharacterDto extends PartialType(CreateCharacterDto, { skipNullProperties: false }) {
  /** Must be one of this character's images; null clears the avatar. */
  @ApiPropertyOptional({ format: 'uuid', nullable: true })
  @Omittable({ nullable: true })
  @LowerCaseUuid()
  @IsUUID()
  avatarImageId?: string | null;

  /** Admins only. */
  @ApiPropertyOptional()
  @Omittable()
  @IsBoolean()
  featured?: boolean;

  /** Admins only. */
  @ApiPropertyOptional({ nullable: true, minimum: 1 })
  @Omittable({ nullable: true })
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  featuredRank?: number | null;

  /** The version the client last saw; an alternative to the If-Match header. */
  @ApiPropertyOptional({ minimum: 1 })
  @Omittable()
  @IsInt()
  @Min(1)
  @Max(2_147_483_647)
  version?: number;
}
