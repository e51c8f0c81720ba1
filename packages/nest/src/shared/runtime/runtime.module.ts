import {
  Logger,
  Module,
  type DynamicModule,
  type FactoryProvider,
  type ModuleMetadata,
  type Provider,
} from '@nestjs/common';
import { DockerService } from '../services/docker.service';
import { TemplateService } from '../services/template.service';
import { DockerRuntime } from './docker.runtime';
import { HttpProbe } from './http-probe.service';
import { LocalRuntime } from './local.runtime';
import { SwarmRuntime } from './swarm.runtime';
import { LoopVolumes } from './loop-volumes.service';
import {
  RUNTIME_OPTIONS,
  resolveRuntimeOptions,
  type RuntimeOptions,
  type RuntimeOptionsInput,
} from './runtime-options';
import { WORKSPACE_RUNTIME, type WorkspaceRuntime } from './workspace-runtime.interface';

/** How long `auto` waits for the engine to answer before choosing `local`. */
const AUTO_PING_TIMEOUT_MS = 2_000;

export interface RuntimeModuleAsyncOptions {
  imports?: ModuleMetadata['imports'];
  inject?: FactoryProvider['inject'];
  /** Receives the `inject` tokens' values in order (typed by the caller, hence `never[]` here). */
  useFactory: (...args: never[]) => RuntimeOptionsInput | Promise<RuntimeOptionsInput>;
}

/**
 * The workspace runtime layer. Provides {@link WORKSPACE_RUNTIME} (`docker` when the engine answers
 * a ping, else `local`; `runtime: 'docker' | 'local' | 'swarm'` forces one), plus `DockerService`,
 * `TemplateService`, `HttpProbe` and the resolved {@link RUNTIME_OPTIONS}.
 *
 * ```ts
 * RuntimeModule.forRootAsync({
 *   imports: [ConfigModule],
 *   inject: [AppConfig],
 *   useFactory: (config: AppConfig) => ({ runtime: config.runtime, templateDir: ..., dataDir: ... }),
 * })
 * ```
 * or `RuntimeModule.forRoot({ templateDir, dataDir })` in tests. Unset options take
 * {@link DEFAULT_RUNTIME_OPTIONS}; invalid ones stop start-up with a message naming the option.
 * The module is global: import it once per application.
 */
@Module({})
export class RuntimeModule {
  static forRoot(options: RuntimeOptionsInput): DynamicModule {
    return RuntimeModule.build({ provide: RUNTIME_OPTIONS, useValue: resolveRuntimeOptions(options) }, []);
  }

  static forRootAsync(options: RuntimeModuleAsyncOptions): DynamicModule {
    return RuntimeModule.build(
      {
        provide: RUNTIME_OPTIONS,
        useFactory: async (...args: unknown[]) =>
          resolveRuntimeOptions(await options.useFactory(...(args as never[]))),
        inject: options.inject ?? [],
      },
      options.imports ?? [],
    );
  }

  private static build(
    optionsProvider: Provider,
    imports: NonNullable<ModuleMetadata['imports']>,
  ): DynamicModule {
    return {
      module: RuntimeModule,
      // One runtime per process: the local runtime owns child processes, and a second instance
      // (from a second import) would neither see nor stop them. Import it once, at the app's root
      // or in the workspace module; every module can then inject WORKSPACE_RUNTIME.
      global: true,
      imports,
      providers: [
        optionsProvider,
        DockerService,
        DockerRuntime,
        LocalRuntime,
        SwarmRuntime,
        LoopVolumes,
        HttpProbe,
        TemplateService,
        {
          provide: WORKSPACE_RUNTIME,
          useFactory: selectRuntime,
          inject: [RUNTIME_OPTIONS, DockerService, DockerRuntime, LocalRuntime, SwarmRuntime],
        },
      ],
      exports: [WORKSPACE_RUNTIME, RUNTIME_OPTIONS, DockerService, TemplateService, HttpProbe],
    };
  }
}

/** The factory behind {@link WORKSPACE_RUNTIME}. */
export async function selectRuntime(
  options: RuntimeOptions,
  docker: DockerService,
  dockerRuntime: DockerRuntime,
  localRuntime: LocalRuntime,
  swarmRuntime: SwarmRuntime,
): Promise<WorkspaceRuntime> {
  const logger = new Logger('RuntimeModule');
  switch (options.runtime) {
    case 'docker':
      // Forced: start anyway, calls answer 503 until the engine is back.
      await docker.ping(AUTO_PING_TIMEOUT_MS).catch((error: unknown) => logger.warn(describe(error)));
      return dockerRuntime;
    case 'local':
      return localRuntime;
    case 'swarm':
      // Like forced docker: start anyway; calls answer 503 until a manager answers.
      await swarmRuntime.ping().catch((error: unknown) => logger.warn(describe(error)));
      logger.log(`workspace runtime: swarm (manager at ${docker.endpoint}, joining workspace networks as ${swarmRuntime.attachContainer})`);
      return swarmRuntime;
    case 'auto':
      try {
        await docker.ping(AUTO_PING_TIMEOUT_MS);
        logger.log(`workspace runtime: docker (engine at ${docker.endpoint})`);
        return dockerRuntime;
      } catch (error) {
        logger.log(`workspace runtime: local (${describe(error)})`);
        return localRuntime;
      }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
