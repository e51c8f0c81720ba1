import { createSecretKey } from 'node:crypto';
import { Module } from '@nestjs/common';
import { JwtModule } from '@nestjs/jwt';
import { TypeOrmModule } from '@nestjs/typeorm';
import { AppConfig } from '../../config/app-config';
import { AuthController } from './auth.controller';
import { AuthService } from './auth.service';
import { UserEntity } from './entities/user.entity';
import { JwtAuthGuard } from './jwt-auth.guard';

@Module({
  imports: [
    TypeOrmModule.forFeature([UserEntity]),
    JwtModule.registerAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        // A key object, made once: given a string, jsonwebtoken tries (and fails) to parse it as a
        // public key on every verify, ~1.2 ms of CPU per authenticated request.
        secret: createSecretKey(Buffer.from(config.jwt.secret, 'utf8')),
        signOptions: {
          // A bare number is seconds; otherwise a duration like "12h" (validated at start-up).
          expiresIn: (/^\d+$/.test(config.jwt.expiresIn)
            ? Number(config.jwt.expiresIn)
            : config.jwt.expiresIn) as unknown as number,
          algorithm: 'HS256',
        },
        verifyOptions: { algorithms: ['HS256'] },
      }),
    }),
  ],
  controllers: [AuthController],
  providers: [AuthService, JwtAuthGuard],
  // JwtModule is exported so the guard (and the socket gateway's handshake) can verify tokens.
  exports: [AuthService, JwtAuthGuard, JwtModule],
})
export class AuthModule {}
