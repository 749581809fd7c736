// The checkout's root directory (the CLI runs from a checkout: bin/sgxsim registers tsx).
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
