import { Body, Controller, Get, HttpCode, HttpStatus, Post, UseGuards } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiResponse, ApiTags } from '@nestjs/swagger';
import { ApiErrorDto } from '../../shared/filters/api-error.dto';
import type { AuthenticatedUser } from './access-token';
import { AuthService } from './auth.service';
import { CurrentUser } from './current-user.decorator';
import { AuthTokenDto, UserProfileDto } from './dto/auth-token.dto';
import { LoginDto, RegisterDto } from './dto/credentials.dto';
import { JwtAuthGuard } from './jwt-auth.guard';

@ApiTags('auth')
@Controller('auth')
export class AuthController {
  constructor(private readonly auth: AuthService) {}

  @Post('register')
  @ApiOperation({ summary: 'Create an account and get an access token' })
  @ApiResponse({ status: 201, type: AuthTokenDto })
  @ApiResponse({ status: 400, type: ApiErrorDto, description: 'Invalid email or password' })
  @ApiResponse({ status: 409, type: ApiErrorDto, description: 'Email already registered' })
  register(@Body() dto: RegisterDto): Promise<AuthTokenDto> {
    return this.auth.register(dto);
  }

  @Post('login')
  @HttpCode(HttpStatus.OK)
  @ApiOperation({ summary: 'Exchange email and password for an access token' })
  @ApiResponse({ status: 200, type: AuthTokenDto })
  @ApiResponse({ status: 401, type: ApiErrorDto, description: 'Wrong email or password' })
  login(@Body() dto: LoginDto): Promise<AuthTokenDto> {
    return this.auth.login(dto);
  }

  @Get('me')
  @UseGuards(JwtAuthGuard)
  @ApiBearerAuth()
  @ApiOperation({ summary: 'The account of the access token' })
  @ApiResponse({ status: 200, type: UserProfileDto })
  @ApiResponse({ status: 401, type: ApiErrorDto })
  me(@CurrentUser() user: AuthenticatedUser): Promise<UserProfileDto> {
    return this.auth.profile(user.userId);
  }
}
