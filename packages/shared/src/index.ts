export * from './workspace/workspace.types';
export * from './workspace/hmr.types';
export * from './workspace/container.types';
export * from './workspace/template.types';
export * from './projects/project.types';
