export { generateSecret, displayPrefix, sha256Hex, timingSafeEqual } from './secrets';
export { requireScope, type Scope } from './middleware';
