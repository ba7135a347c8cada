// ESLint (flat config): the recommended JS and typescript-eslint rules, plus rules that catch real
// bugs. TypeScript in src/, test/, demo/ and examples/ is linted with type information (floating
// promises, awaits of non-promises, misused promises). AssemblyScript (assembly/, bench/wasm/) is
// not TypeScript (decorators on functions, v128, load<T>): asc checks it.
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default defineConfig(
  {
    ignores: [
      'dist/',
      'node_modules/',
      'bench/.build/',
      'bench/results/',
      'assembly/',
      'bench/wasm/*.ts',
      'test/fixtures/',
    ],
  },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module', globals: { ...globals.node, ...globals.browser } },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      eqeqeq: ['error', 'always', { null: 'ignore' }],
      'no-fallthrough': 'error',
      'no-self-compare': 'error',
      'no-template-curly-in-string': 'error',
      'no-unmodified-loop-condition': 'error',
      'no-unreachable-loop': 'error',
      'no-constructor-return': 'error',
      // Style, not bugs: a thrown error's `cause` (adding one changes the errors callers see) and
      // runs of spaces in a regular expression (`/%  \[/` reads as well as `/% {2}\[/`).
      'preserve-caught-error': 'off',
      'no-regex-spaces': 'off',
      'no-unused-vars': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none', ignoreRestSiblings: true },
      ],
    },
  },
  // Module Web Workers of the browser test.
  { files: ['test/browser/*.js'], languageOptions: { globals: globals.worker } },
  // `new Embedding(...)` may still return a ShardedEmbedding (issue 14 replaces it with a factory;
  // then drop this override).
  { files: ['src/embedding.ts'], rules: { 'no-constructor-return': 'off' } },
  {
    files: ['src/**/*.ts', 'test/**/*.ts', 'demo/**/*.ts', 'examples/**/*.ts'],
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.json', './test/tsconfig.json', './demo/tsconfig.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/await-thenable': 'error',
    },
  },
);
