export { requireScope, type Scope } from './middleware';
export { displayPrefix, generateSecret, sha256Hex, timingSafeEqual } from './secrets';
