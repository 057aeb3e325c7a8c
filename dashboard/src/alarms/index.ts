/**
 * The alarm console and one-key call (一键呼叫), by concern:
 *   store.ts    the alarm set from the WebSocket (resync, seq order), REST calls, title count
 *   text.ts     labels in the page's language
 *   calls.ts    one-key call details and cards
 *   chips.ts    count chips of the overview and the room view
 *   console.ts  the console view (standing-set filters, table, modes, Export CSV)
 *   filters.ts  the history query's filter form
 *   actions.ts  the operator's action form under a row
 *   history-panel.ts  one alarm's journal in the side panel
 */
export { AlarmStore, alarmApi, alarmStore, isCall, sortAlarms, titleCount, type AlarmState, type AlarmView, type JournalEntry } from './store.ts';
export { sevText, stateText } from './text.ts';
export { callMeta, setSiteNames, type CallMeta } from './calls.ts';
export { alarmSummarySlot, roomAlarmBadge, roomAlarmSlot } from './chips.ts';
export { alarmConsole, type ConsoleCtx } from './console.ts';
