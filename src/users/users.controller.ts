import { Body, Controller, Get, Param, Patch } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { CurrentUser, Public } from '../auth/auth.decorators';
import type { Viewer } from '../auth/viewer';
import { ReplayFromCache } from '../http-cache/replay-from-cache.decorator';
import { UpdatePreferencesDto } from './dto/update-preferences.dto';
import type { OwnUserResponse, PublicUserResponse } from './user.responses';
import { UsernameParamPipe } from './username-param.pipe';
import { UsersService } from './users.service';

@ApiTags('users')
@ApiBearerAuth()
@Controller('users')
export class UsersController {
  constructor(private readonly users: UsersService) {}

  @Get('me')
  me(@CurrentUser() viewer: Viewer): Promise<OwnUserResponse> {
    return this.users.getOwn(viewer.userId!);
  }

  @Patch('me/preferences')
  updatePreferences(@CurrentUser() viewer: Viewer, @Body() dto: UpdatePreferencesDto): Promise<OwnUserResponse> {
    return this.users.updatePreferences(viewer.userId!, dto);
  }

  @Public()
  @ReplayFromCache()
  @Get(':username')
  profile(@Param('username', UsernameParamPipe) username: string): Promise<PublicUserResponse> {
    return this.users.getPublicProfile(username);
  }
}
