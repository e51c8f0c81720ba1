// One ESLint setup for the monorepo: type-aware rules that catch unhandled promises and
// non-exhaustive switches, and an import boundary keeping dockerode inside the runtime layer.
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/node_modules/**',
      '**/dist/**',
      '**/.next/**',
      '**/.astro/**',
      'workspace-templates/**',
      '.data/**',
      'test-artifacts/**',
      '**/*.config.*',
      '**/next-env.d.ts',
      '**/*.js',
      '**/*.mjs',
    ],
  },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts', '**/*.tsx'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { attributes: false } }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests read loosely typed JSON bodies; `any` there is a convenience, not a hole in the product.
    files: ['**/test/**/*.ts', '**/*.spec.ts', 'tests/**/*.ts', '**/bench/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['packages/nest/src/**/*.ts'],
    ignores: ['packages/nest/src/shared/runtime/**', 'packages/nest/src/shared/services/docker.service.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { paths: [{ name: 'dockerode', message: 'Only the runtime layer and docker.service.ts talk to Docker.' }] },
      ],
    },
  },
);
