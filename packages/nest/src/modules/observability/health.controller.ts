import { Controller, Get, Header, HttpCode, Inject, Res } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Response } from 'express';
import type { DataSource } from 'typeorm';
import { WORKSPACE_RUNTIME, type WorkspaceRuntime } from '../../shared/runtime/workspace-runtime.interface';
import { SessionOwnershipService } from '../workspace/cluster/session-ownership.service';
import { MetricsService } from './metrics.service';

interface Check {
  ok: boolean;
  message?: string;
}

const CHECK_TIMEOUT_MS = 3_000;

async function check(run: () => Promise<unknown>): Promise<Check> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      run(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`)),
          CHECK_TIMEOUT_MS,
        );
      }),
    ]);
    return { ok: true };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  } finally {
    clearTimeout(timer);
  }
}

/** Liveness, readiness and metrics; outside `/api/v1` and without auth, as probes expect. */
@ApiTags('health')
@Controller()
export class HealthController {
  constructor(
    @InjectDataSource() private readonly db: DataSource,
    @Inject(WORKSPACE_RUNTIME) private readonly runtime: WorkspaceRuntime,
    private readonly metrics: MetricsService,
    private readonly ownership: SessionOwnershipService,
  ) {}

  @Get('health')
  @ApiOperation({ summary: 'Liveness: the process answers' })
  @HttpCode(200)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('health/ready')
  @ApiOperation({
    summary: 'Readiness: the database and the workspace runtime answer, and the replica is not draining',
  })
  async ready(@Res({ passthrough: true }) res: Response) {
    // A stopping replica (SIGTERM) leaves the proxy's rotation before it closes.
    if (this.ownership.draining) {
      res.status(503);
      return { status: 'draining', checks: {} };
    }
    const [database, runtime] = await Promise.all([
      check(() => this.db.query('SELECT 1')),
      check(() => this.runtime.ping()),
    ]);
    const ok = database.ok && runtime.ok;
    res.status(ok ? 200 : 503);
    return {
      status: ok ? 'ready' : 'not ready',
      checks: { database, runtime: { ...runtime, kind: this.runtime.kind } },
    };
  }

  @Get('metrics')
  @ApiOperation({ summary: 'Prometheus metrics' })
  @Header('Cache-Control', 'no-store')
  async scrape(@Res() res: Response): Promise<void> {
    const { contentType, body } = await this.metrics.render();
    res.setHeader('Content-Type', contentType);
    res.send(body);
  }
}
