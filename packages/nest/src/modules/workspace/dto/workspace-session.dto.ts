import {
  BUILD_STEPS,
  type BuildStep,
  type ResourceAllocation,
  WORKSPACE_STATUSES,
  type WorkspaceSession,
  type WorkspaceStatus,
} from '@builder/shared';
import { ApiProperty } from '@nestjs/swagger';

export class ResourceAllocationDto implements ResourceAllocation {
  @ApiProperty({ example: 536870912, description: 'Memory limit in bytes' })
  memoryBytes: number;

  @ApiProperty({ example: 512, description: 'Relative CPU weight' })
  cpuShares: number;

  @ApiProperty({ example: 0.5, description: 'CPU quota in cores, applied once the dev server is ready' })
  cpuCores: number;

  @ApiProperty({ example: 256 })
  pidsLimit: number;

  @ApiProperty({ example: 1073741824, description: 'Largest total size of the workspace files' })
  storageBytes: number;
}

export class WorkspaceSessionDto implements WorkspaceSession {
  @ApiProperty({ format: 'uuid' })
  id: string;

  @ApiProperty({ enum: WORKSPACE_STATUSES, example: 'creating' })
  status: WorkspaceStatus;

  @ApiProperty({ type: String, nullable: true, example: 'http://localhost:8000' })
  previewUrl: string | null;

  @ApiProperty({ type: Number, nullable: true, example: 8000 })
  port: number | null;

  @ApiProperty({ example: 'baseline-landing' })
  templateName: string;

  @ApiProperty({ format: 'date-time' })
  createdAt: string;

  @ApiProperty({ format: 'date-time' })
  expiresAt: string;

  @ApiProperty({ format: 'date-time' })
  lastActivityAt: string;

  @ApiProperty({ type: ResourceAllocationDto })
  resourceAllocation: ResourceAllocationDto;

  @ApiProperty({ type: String, nullable: true })
  errorMessage: string | null;

  @ApiProperty({ enum: BUILD_STEPS, nullable: true, example: 'queued' })
  buildStep: BuildStep | null;

  @ApiProperty({ type: Number, nullable: true, description: 'Place in the start queue while waiting' })
  queuePosition: number | null;

  @ApiProperty({
    type: String,
    format: 'uuid',
    nullable: true,
    description: 'The project the session previews',
  })
  projectId: string | null;
}
