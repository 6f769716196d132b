import { HttpStatus, Injectable } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { JwtService } from '@nestjs/jwt';
import { InjectRepository } from '@nestjs/typeorm';
import * as argon2 from 'argon2';
import { QueryFailedError, Repository } from 'typeorm';
import { Cacheable, CacheEvict, cacheKey } from '../cache';
import { ApiError } from '../common/errors/api-error';
import { AuthConfig } from '../config';
import { User } from '../users/entities/user.entity';
import { IMAGE_CACHE } from '../images/image-cache';
import { effectiveTier, toOwnUser, userTag } from '../users/user.responses';
import { LoginDto } from './dto/login.dto';
import { RegisterDto } from './dto/register.dto';
import { TokenResponse } from './dto/token.response';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
import { Viewer } from './viewer';

interface TokenClaims {
  sub: string;
}

const invalidCredentials = () =>
  new ApiError(HttpStatus.UNAUTHORIZED, 'INVALID_CREDENTIALS', 'Invalid username or password');
const invalidToken = () => new ApiError(HttpStatus.UNAUTHORIZED, 'INVALID_TOKEN', 'The token is invalid or expired');

/**
 * The form a password is hashed in: NFC, as RFC 8265's OpaqueString profile asks. An "é" is one code point on one
 * keyboard and e + accent on another (macOS file names, some IMEs); both are one password.
 */
const storedForm = (password: string): string => password.normalize('NFC');

/**
 * Which form of the typed password the hash was made from, if any. NFC first (every hash since normalization);
 * then, for hashes made earlier from the raw bytes, the raw and the NFD form. An ASCII password is one candidate.
 * A wrong password costs every candidate, for a known and an unknown user alike (the decoy), so timing tells
 * nothing about which usernames exist.
 */
async function firstMatching(hash: string, typed: string): Promise<string | undefined> {
  for (const candidate of new Set([storedForm(typed), typed, typed.normalize('NFD')])) {
    if (await argon2.verify(hash, candidate).catch(() => false)) {
      return candidate;
    }
  }
  return undefined;
}

@Injectable()
export class AuthService {
  /** Verified against when the username does not exist, so both failures take the same time. */
  private readonly decoyHash = argon2.hash('decoy-password-for-timing');
  private readonly expiresIn: number;

  constructor(
    @InjectRepository(User) private readonly users: Repository<User>,
    private readonly jwt: JwtService,
    config: ConfigService,
  ) {
    this.expiresIn = config.getOrThrow<AuthConfig>('auth').jwtExpiresInSeconds;
  }

  /** The name was unknown until now: a "no such user" cached for it (`users:id`, 30 s) goes. */
  @CacheEvict({ keys: (_token: TokenResponse | undefined, dto: RegisterDto) => [cacheKey(IMAGE_CACHE.userId, dto.username)] })
  async register(dto: RegisterDto): Promise<TokenResponse> {
    const passwordHash = await argon2.hash(storedForm(dto.password));
    try {
      const user = await this.users.save(
        this.users.create({ username: dto.username, email: dto.email, passwordHash }),
      );
      const saved = await this.users.findOneByOrFail({ id: user.id });
      return this.issue(saved);
    } catch (error) {
      throw this.uniqueViolation(error) ?? error;
    }
  }

  async login(dto: LoginDto): Promise<TokenResponse> {
    const user = await this.users
      .createQueryBuilder('u')
      .addSelect('u.passwordHash')
      .where('u.username = :username', { username: dto.username })
      .getOne();
    const hash = user?.passwordHash ?? (await this.decoyHash);
    const matched = await firstMatching(hash, dto.password);
    if (!user || matched === undefined) {
      throw invalidCredentials();
    }
    if (matched !== storedForm(dto.password)) {
      // Hashed before passwords were normalized, from the bytes one keyboard sent: stored again in the one form, so
      // the same password typed on another keyboard logs in too from now on.
      await this.users.update({ id: user.id }, { passwordHash: await argon2.hash(storedForm(dto.password)) });
    }
    return this.issue(user);
  }

  /** Verifies the token and loads what the viewer may see now (preferences and tier can change after login). */
  async viewerFromToken(token: string): Promise<Viewer> {
    let claims: TokenClaims;
    try {
      claims = await this.jwt.verifyAsync<TokenClaims>(token, { algorithms: ['HS256'] });
    } catch {
      throw invalidToken();
    }
    // Signed is not well-formed: a token minted elsewhere with the same key may carry anything as `sub`.
    if (typeof claims?.sub !== 'string' || !UUID.test(claims.sub)) {
      throw invalidToken();
    }
    const viewer = await this.loadViewer(claims.sub.toLowerCase());
    if (!viewer) {
      throw invalidToken();
    }
    return viewer;
  }

  /**
   * The rights of one user, read on every authenticated request: cached per user (`auth:viewer`), evicted by
   * preference and subscription changes (tag `user:{id}`), so a change applies on the very next request.
   */
  @Cacheable({
    namespace: 'auth:viewer',
    scope: 'viewer',
    viewer: (userId: string) => userId,
    key: (_userId: string) => [],
    ttl: '5m',
    cacheNull: '10s',
    argTags: (userId: string) => [userTag(userId)],
  })
  async loadViewer(userId: string): Promise<Viewer | null> {
    const user = await this.users.findOne({
      where: { id: userId },
      select: { id: true, role: true, preferences: true, subscriptionTier: true, subscriptionStatus: true },
    });
    return user
      ? { userId: user.id, role: user.role, showNsfw: user.preferences.showNsfw === true, tier: effectiveTier(user) }
      : null;
  }

  private async issue(user: User): Promise<TokenResponse> {
    const accessToken = await this.jwt.signAsync({ sub: user.id } satisfies TokenClaims, {
      expiresIn: this.expiresIn,
      algorithm: 'HS256',
    });
    return { accessToken, tokenType: 'Bearer', expiresIn: this.expiresIn, user: toOwnUser(user) };
  }

  private uniqueViolation(error: unknown): ApiError | null {
    if (!(error instanceof QueryFailedError)) {
      return null;
    }
    const driver = error.driverError as { code?: string; constraint?: string };
    if (driver.code !== '23505') {
      return null;
    }
    return driver.constraint === 'users_email_key'
      ? ApiError.conflict('EMAIL_TAKEN', 'This e-mail address is already registered', 'email')
      : ApiError.conflict('USERNAME_TAKEN', 'This username is taken', 'username');
  }
}
