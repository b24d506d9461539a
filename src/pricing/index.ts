export { type Money, PICO_PER_USD, parseUsd, formatUsd } from './money';
export { type Price, type Cost, type TokenCounts, costOf, parsePricePer1k, MAX_PRICE_PER_1K } from './cost';
