import type { DataSourceOptions } from 'typeorm';
import { UserEntity } from '../modules/auth/entities/user.entity';
import { ProjectVersionFileEntity } from '../modules/projects/entities/project-version-file.entity';
import { ProjectVersionEntity } from '../modules/projects/entities/project-version.entity';
import { ProjectEntity } from '../modules/projects/entities/project.entity';
import { LeaseEntity } from '../modules/workspace/entities/lease.entity';
import { WorkspaceSessionEntity } from '../modules/workspace/entities/session.entity';
import { MIGRATIONS } from './migrations';

export const ENTITIES = [
  UserEntity,
  WorkspaceSessionEntity,
  ProjectEntity,
  ProjectVersionEntity,
  ProjectVersionFileEntity,
  LeaseEntity,
];

/**
 * What the app and the TypeORM CLI (`data-source.ts`) both connect with: the same entities and
 * migrations, PostgreSQL, schema changes only through migrations.
 */
export const TYPEORM_SCHEMA_OPTIONS = {
  type: 'postgres',
  entities: ENTITIES,
  migrations: MIGRATIONS,
  migrationsTransactionMode: 'each',
  synchronize: false,
  uuidExtension: 'pgcrypto',
  installExtensions: false,
} as const satisfies Partial<DataSourceOptions>;
