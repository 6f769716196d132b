import type { OwnUserResponse } from '../../users/user.responses';

export interface TokenResponse {
  accessToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  user: OwnUserResponse;
}
