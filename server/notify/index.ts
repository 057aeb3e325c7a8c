/** The notification port (docs/notifications.md). */
export * from './types.ts';
