/** Customers: the index over topology + imported customers (docs/contract.md, Customers). */
export { CustomerIndex, diffIndexes, diffIsEmpty, type CustomerDiff, type CustomerScope, type IndexedCustomer, type TransformerRef } from './customer-index.ts';
