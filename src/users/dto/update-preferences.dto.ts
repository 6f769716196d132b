import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsIn } from 'class-validator';
import { Omittable } from '../../common/http/omittable.decorator';
import { Language, LANGUAGES } from '../entities/user.entity';

export class UpdatePreferencesDto {
  @ApiPropertyOptional()
  @Omittable()
  @IsBoolean()
  showNsfw?: boolean;

  @ApiPropertyOptional({ enum: LANGUAGES })
  @Omittable()
  @IsIn(LANGUAGES)
  language?: Language;
}
