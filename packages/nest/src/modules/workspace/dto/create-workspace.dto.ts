import { type CreateWorkspaceRequest, DEFAULT_TEMPLATE_NAME } from '@builder/shared';
import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional, IsString, IsUUID } from 'class-validator';

/** Templates a workspace can start from. */
export const KNOWN_TEMPLATES = [DEFAULT_TEMPLATE_NAME] as const;

export class CreateWorkspaceDto implements CreateWorkspaceRequest {
  @ApiPropertyOptional({ enum: KNOWN_TEMPLATES, default: DEFAULT_TEMPLATE_NAME })
  @IsOptional()
  @IsString()
  @IsIn(KNOWN_TEMPLATES, { message: `templateName must be one of: ${KNOWN_TEMPLATES.join(', ')}` })
  templateName?: string;

  @ApiPropertyOptional({
    format: 'uuid',
    description:
      'Preview this project of mine (its current version); without it a new project is made from the template',
  })
  @IsOptional()
  @IsUUID('all', { message: 'projectId must be a UUID' })
  projectId?: string;
}
