// Layering is enforced here, as VS Code and GitHub Desktop do: forensic services never import
// Electron or React; the renderer reaches the services only through the shared API contract.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noElectronNoReact = {
  paths: [
    { name: 'electron', message: 'Services are plain Node modules: do not import electron here (see STYLE.md).' },
    { name: 'react', message: 'Services never import React.' },
    { name: 'react-dom', message: 'Services never import React.' },
  ],
};

// Only electron/services/onnx-graphs/ builds ONNX ModelProtos: it alone holds the protobuf writer,
// and everything else reaches it through its index.
const onnxGraphsFromOutside = {
  paths: [...noElectronNoReact.paths, { name: 'protobufjs', message: 'Only electron/services/onnx-graphs/ writes protobuf (the ONNX writer lives there).' }],
  patterns: [
    {
      group: ['**/onnx-graphs/*', '!**/onnx-graphs/index', '**/models/convert/**'],
      message: 'Import ONNX graph builders from electron/services/onnx-graphs (its index), not its files.',
    },
    { group: ['**/models/experiments/**'], message: 'Experiment scripts are not shipped: product code never imports them.' },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'models/backbones/**', 'out/**', 'test/fixtures/generated/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-empty': ['error', { allowEmptyCatch: true }],
    },
  },
  {
    files: ['electron/**/*.ts', 'models/**/*.ts', 'test/**/*.ts'],
    ignores: ['electron/main.ts', 'electron/preload.ts', 'electron/ipc/**'],
    rules: { 'no-restricted-imports': ['error', noElectronNoReact] },
  },
  {
    files: ['electron/**/*.ts', 'models/**/*.ts'],
    ignores: ['electron/main.ts', 'electron/preload.ts', 'electron/ipc/**', 'electron/services/onnx-graphs/**'],
    rules: { 'no-restricted-imports': ['error', onnxGraphsFromOutside] },
  },
  {
    files: ['renderer/**/*.{ts,tsx}'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [{ name: 'electron', message: 'The renderer talks to the services only through the API client.' }],
          patterns: [
            { group: ['**/electron/services/**', '**/electron/server/**', '**/electron/ipc/**'], message: 'The renderer imports only the shared contract and its API client.' },
            { group: ['node:*'], message: 'The renderer runs in a sandbox: no Node modules.' },
          ],
        },
      ],
    },
  },
);
