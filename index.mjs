// ESM entry: the same objects as the CommonJS entry.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const api = require('./index.js');

export const { WorkerPool, ForkwireError, WorkerError, codes, nativeVersion } = api;
export default api;
