import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ACTIVE_WORKSPACE_STATUSES } from '@builder/shared';
import { DataSource, QueryFailedError } from 'typeorm';
import { AppConfig } from '../../config/app-config';
import { PortsExhaustedError } from '../../shared/errors/ports-exhausted.error';
import { HostPortProbe } from './host-port-probe.service';

/** Name of the partial unique index that keeps active sessions on distinct ports. */
export const ACTIVE_PORT_INDEX = 'workspace_sessions_active_port_key';

/** Whether an error is PostgreSQL's unique violation (23505), optionally on one constraint. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  if (!(error instanceof QueryFailedError)) return false;
  const driverError = error.driverError as { code?: string; constraint?: string };
  return driverError.code === '23505' && (!constraint || driverError.constraint === constraint);
}

/**
 * Hands out preview ports of PORT_RANGE. The database decides: a port is taken by inserting (or
 * updating) a session row holding it in an active status, and the partial unique index refuses a
 * second one, across processes. This class only picks good candidates: not held by an active
 * session, not being claimed by this process right now, and bindable on the host (a port another
 * program holds is skipped).
 */
@Injectable()
export class PortAllocator {
  private readonly claiming = new Set<number>();

  constructor(
    private readonly config: AppConfig,
    private readonly probe: HostPortProbe,
    @InjectDataSource() private readonly dataSource: DataSource,
  ) {}

  /**
   * Calls `claim(port)` with candidate ports until one succeeds; a unique violation on the port
   * index means another request or process won that port, and the next one is tried. Other errors
   * (e.g. a quota check inside `claim`) pass through. Throws {@link PortsExhaustedError}.
   */
  async allocate<T>(claim: (port: number) => Promise<T>): Promise<T> {
    const { start, end } = this.config.ports;
    const skipped = new Set<number>();
    const maxAttempts = end - start + 1;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const port = await this.nextCandidate(skipped);
      if (port === null) break;
      this.claiming.add(port);
      try {
        return await claim(port);
      } catch (error) {
        if (!isUniqueViolation(error, ACTIVE_PORT_INDEX)) throw error;
        skipped.add(port);
      } finally {
        this.claiming.delete(port);
      }
    }
    throw new PortsExhaustedError(start, end);
  }

  /** Ports of the range held by active sessions, per the database. */
  async activePorts(): Promise<Set<number>> {
    const rows: Array<{ port: number }> = await this.dataSource.query(
      `SELECT port FROM workspace_sessions WHERE port IS NOT NULL AND status = ANY($1::workspace_status[])`,
      [ACTIVE_WORKSPACE_STATUSES],
    );
    return new Set(rows.map((row) => row.port));
  }

  private async nextCandidate(skipped: Set<number>): Promise<number | null> {
    const { start, end } = this.config.ports;
    const used = await this.activePorts();
    for (let port = start; port <= end; port++) {
      if (used.has(port) || skipped.has(port) || this.claiming.has(port)) continue;
      if (!(await this.probe.isFree(port))) {
        skipped.add(port);
        continue;
      }
      // Re-check: another request of this process may have started claiming it while we probed.
      if (this.claiming.has(port)) continue;
      return port;
    }
    return null;
  }
}
