import { Body, Controller, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/auth.decorators';
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

  @Put(':id/subscription')
  async setSubscription(@UuidParam('id') id: string, @Body() dto: SetSubscriptionDto): Promise<OwnUserResponse> {
    await this.users.setSubscription(id, dto);
    return this.users.getOwn(id);
  }
}
