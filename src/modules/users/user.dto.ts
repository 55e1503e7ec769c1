import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, IsString } from 'class-validator';
import { PagingQuery, toBoolean } from '../../common/params';

export class CreateUserDto {
  @ApiProperty({ description: 'Login: lower case, starts with a letter, 4+ of a-z 0-9 - .' })
  @IsString()
  login!: string;

  @ApiProperty()
  @IsString()
  email!: string;

  @ApiProperty()
  @IsString()
  firstName!: string;

  @ApiProperty()
  @IsString()
  lastName!: string;

  @ApiProperty({ description: 'At least 6 characters' })
  @IsString()
  password!: string;

  @ApiPropertyOptional({ description: 'Make the user a site admin (honoured only for admins)' })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  admin?: boolean;
}

export class UpdateUserDto {
  @ApiPropertyOptional() @IsOptional() @IsString() login?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() email?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() firstName?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() lastName?: string;

  @ApiPropertyOptional({ description: 'Site admin only' })
  @IsOptional()
  @Transform(toBoolean)
  @IsBoolean()
  admin?: boolean;

  @ApiPropertyOptional({ enum: ['enabled', 'disabled'], description: 'Site admin only' })
  @IsOptional()
  @IsIn(['enabled', 'disabled'])
  status?: 'enabled' | 'disabled';
}

export class ChangePasswordDto {
  @ApiProperty({ description: 'The current password' }) @IsString() old!: string;
  @ApiProperty({ description: 'The new password' }) @IsString() new!: string;
}

export class AdminSetPasswordDto {
  @ApiProperty({ description: 'The new password' }) @IsString() password!: string;
}

export class ListUsersQuery extends PagingQuery {
  @ApiPropertyOptional({ description: 'Search: a prefix of the login or part of a name' })
  @IsOptional()
  @IsString()
  text?: string;
}
