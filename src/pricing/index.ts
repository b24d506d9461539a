export { type Cost, costOf, MAX_PRICE_PER_1K, type Price, parsePricePer1k, type TokenCounts } from './cost';
export { formatUsd, type Money, PICO_PER_USD, parseUsd } from './money';
