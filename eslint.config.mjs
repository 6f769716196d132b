import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-config-prettier';

const LENGTH_RULE = {
  name: 'class-validator',
  importNames: ['Length', 'MinLength', 'MaxLength'],
  message: 'These count characters unlike PostgreSQL: use CharLength (src/common/http/char-length.decorator).',
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.data/**', '*.js', '*.mjs', 'test/support/*.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  prettier,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/require-await': 'off',
      eqeqeq: ['error', 'always'],
      curly: ['error', 'all'],
    },
  },
  {
    // Every DTO: class-validator's length checks count characters differently from PostgreSQL (see CharLength).
    files: ['src/**/dto/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { paths: [LENGTH_RULE] }] },
  },
  {
    // Body DTOs: IsOptional lets an explicit null through (see Omittable). A query string cannot carry null, so
    // query DTOs (*.query.ts) may keep it, as may the config classes (src/config, outside any dto folder).
    // (A later block's options replace an earlier one's for the same rule, so the length rule is repeated.)
    files: ['src/**/dto/**/*.ts'],
    ignores: ['src/**/*.query.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            LENGTH_RULE,
            {
              name: 'class-validator',
              importNames: ['IsOptional'],
              message:
                'IsOptional lets an explicit null through: use Omittable (src/common/http/omittable.decorator).',
            },
          ],
        },
      ],
    },
  },
);
