import { Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { AppConfig } from '../../config/app-config';
import { previewOrigin } from '../preview-proxy/preview-host';

/** The preview URL a session's owner is given. */
@Injectable()
export class PreviewUrlService {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    private readonly config: AppConfig,
  ) {}

  /**
   * Direct mode: the dev server's published host port. Proxy mode: the preview proxy on the API's
   * port, under a host name carrying the session's unguessable token (see modules/preview-proxy).
   */
  of(port: number | null, id: string, token: string): string {
    if (this.config.preview.mode === 'proxy') {
      return `${previewOrigin(id, token, this.config.preview.domain, this.apiPort())}/`;
    }
    return `http://${this.config.preview.host}:${port}`;
  }

  /** The port the API really listens on (tests listen on port 0), else the configured one. */
  private apiPort(): number {
    const address = this.adapterHost?.httpAdapter?.getHttpServer()?.address?.() as
      { port?: number } | string | null;
    return typeof address === 'object' && address?.port ? address.port : this.config.port;
  }
}
