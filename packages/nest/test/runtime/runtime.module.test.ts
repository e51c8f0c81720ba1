import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME_OPTIONS, type RuntimeOptions } from '../../src/shared/runtime/runtime-options';
import { RuntimeModule } from '../../src/shared/runtime/runtime.module';
import {
  WORKSPACE_RUNTIME,
  type WorkspaceRuntime,
} from '../../src/shared/runtime/workspace-runtime.interface';
import { DockerService } from '../../src/shared/services/docker.service';
import { TemplateService } from '../../src/shared/services/template.service';
import { TEMPLATE_DIR, dockerAvailability } from './runtime-test.helpers';

const docker = dockerAvailability();

async function boot(options: Parameters<typeof RuntimeModule.forRoot>[0]) {
  @Module({ imports: [RuntimeModule.forRoot(options)] })
  class AppModule {}
  const app = await NestFactory.createApplicationContext(AppModule, { logger: false });
  return app;
}

describe('RuntimeModule', () => {
  let dataDir: string;

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'runtime-module-test-'));
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('chooses local when the engine does not answer, and exports the services', async () => {
    const app = await boot({ templateDir: TEMPLATE_DIR, dataDir, dockerSocket: '/tmp/no-such-docker.sock' });
    try {
      expect(app.get<WorkspaceRuntime>(WORKSPACE_RUNTIME).kind).toBe('local');
      expect(app.get(TemplateService)).toBeInstanceOf(TemplateService);
      expect(app.get(DockerService).endpoint).toBe('/tmp/no-such-docker.sock');
      expect(app.get<RuntimeOptions>(RUNTIME_OPTIONS).networkName).toBe('builder-workspaces');
    } finally {
      await app.close();
    }
  });

  it.skipIf(!docker.available)('chooses docker when the engine answers', async () => {
    const app = await boot({ templateDir: TEMPLATE_DIR, dataDir });
    try {
      expect(app.get<WorkspaceRuntime>(WORKSPACE_RUNTIME).kind).toBe('docker');
    } finally {
      await app.close();
    }
  });

  it('honours a forced choice', async () => {
    const local = await boot({ templateDir: TEMPLATE_DIR, dataDir, runtime: 'local' });
    expect(local.get<WorkspaceRuntime>(WORKSPACE_RUNTIME).kind).toBe('local');
    await local.close();
    const forced = await boot({
      templateDir: TEMPLATE_DIR,
      dataDir,
      runtime: 'docker',
      dockerSocket: '/tmp/no-such-docker.sock',
    });
    expect(forced.get<WorkspaceRuntime>(WORKSPACE_RUNTIME).kind).toBe('docker');
    await forced.close();
    // swarm is never chosen by auto; forced, it starts without a manager and answers 503 until one is there.
    const swarm = await boot({ templateDir: TEMPLATE_DIR, dataDir, runtime: 'swarm', dockerSocket: '/tmp/no-such-docker.sock' });
    const runtime = swarm.get<WorkspaceRuntime>(WORKSPACE_RUNTIME);
    expect(runtime.kind).toBe('swarm');
    expect(runtime.publishesHostPorts).toBe(false);
    await expect(runtime.ping()).rejects.toThrow(/does not answer/);
    await swarm.close();
  });

  it('stops start-up on an invalid option, naming it', async () => {
    await expect(boot({ templateDir: 'relative/path', dataDir })).rejects.toThrow(/"templateDir"/);
  });
});
