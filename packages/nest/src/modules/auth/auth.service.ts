import { Injectable } from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import { InjectRepository } from '@nestjs/typeorm';
import { compare, hash, hashSync } from 'bcryptjs';
import { QueryFailedError, type Repository } from 'typeorm';
import { EmailTakenError } from '../../shared/errors/email-taken.error';
import { InvalidCredentialsError } from '../../shared/errors/invalid-credentials.error';
import { InvalidTokenError } from '../../shared/errors/invalid-token.error';
import type { AccessTokenPayload } from './access-token';
import type { AuthTokenDto, UserProfileDto } from './dto/auth-token.dto';
import type { LoginDto, RegisterDto } from './dto/credentials.dto';
import { UserEntity } from './entities/user.entity';

const BCRYPT_ROUNDS = 10;
/** Compared against when the email is unknown, so both failures take the same time. */
let dummyHash: string | undefined;
const getDummyHash = () => (dummyHash ??= hashSync('not-a-password', BCRYPT_ROUNDS));

@Injectable()
export class AuthService {
  constructor(
    @InjectRepository(UserEntity) private readonly users: Repository<UserEntity>,
    private readonly jwt: JwtService,
  ) {}

  async register(dto: RegisterDto): Promise<AuthTokenDto> {
    const passwordHash = await hash(dto.password, BCRYPT_ROUNDS);
    let user: UserEntity;
    try {
      const result = await this.users
        .createQueryBuilder()
        .insert()
        .values({ email: dto.email, passwordHash })
        .returning(['id', 'email'])
        .execute();
      user = result.raw[0] as UserEntity;
    } catch (error) {
      if (error instanceof QueryFailedError && (error.driverError as { code?: string }).code === '23505') {
        throw new EmailTakenError();
      }
      throw error;
    }
    return this.issueToken(user.id, user.email);
  }

  async login(dto: LoginDto): Promise<AuthTokenDto> {
    const user = await this.users
      .createQueryBuilder('u')
      .addSelect('u.passwordHash')
      .where('u.email = :email', { email: dto.email })
      .getOne();
    const ok = await compare(dto.password, user?.passwordHash ?? getDummyHash());
    if (!user || !ok) throw new InvalidCredentialsError();
    return this.issueToken(user.id, user.email);
  }

  async profile(userId: string): Promise<UserProfileDto> {
    const user = await this.users.findOne({ where: { id: userId } });
    if (!user) throw new InvalidTokenError('the account of this access token no longer exists');
    return { id: user.id, email: user.email, createdAt: user.createdAt.toISOString() };
  }

  private async issueToken(userId: string, email: string): Promise<AuthTokenDto> {
    const payload: AccessTokenPayload = { sub: userId, email };
    return { accessToken: await this.jwt.signAsync(payload) };
  }
}
