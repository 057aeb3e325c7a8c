/** The spool port and its implementations. */
export { DiskSpool, type DiskSpoolOptions } from './disk-spool.ts';
export { MemorySpool, type MemorySpoolOptions } from './memory-spool.ts';
export { FSYNC_POLICIES, type EncodedReadings, type FsyncPolicy, type Spool, type SpoolLoss, type SpoolStats, type UnsequencedReading } from './types.ts';
