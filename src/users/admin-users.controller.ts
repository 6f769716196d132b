import { Body, Controller, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/auth.decorators';
import { ApiError } from '../common/errors/api-error';
import { UuidParam } from '../common/http/uuid-param.decorator';
import { SetSubscriptionDto } from './dto/set-subscription.dto';
import type { OwnUserResponse } from './user.responses';
import { UsersService } from './users.service';

@ApiTags('admin')
@ApiBearerAuth()
@Roles('admin')
@Controller('admin/users')
export class AdminUsersController {
  constructor(private readonly users: UsersService) {}

  /**
   * Sets a subscription as of now. A change dated later (a billing event, the provider's clock ahead of ours) has
   * the last word: this one is refused with a 409 rather than answered 200 with nothing changed.
   */
  @Put(':id/subscription')
  async setSubscription(@UuidParam('id') id: string, @Body() dto: SetSubscriptionDto): Promise<OwnUserResponse> {
    if (!(await this.users.setSubscription(id, dto))) {
      throw ApiError.conflict(
        'SUBSCRIPTION_CHANGED_LATER',
        'A subscription change dated after this one has already been applied; nothing was changed',
      );
    }
    return this.users.getOwn(id);
  }
}
