/**
 * One DL/T 645 meter as a poll source for the device poller: every read of
 * its profile in order on its bus, stopping at the first that fails (so a
 * dead meter costs its bus one timeout per poll). A value that is not BCD is
 * dropped with its reason (logged once per quantity, counted), never turned
 * into a number; the rest of the reading still goes out.
 */
import type { Logger } from 'pino';
import type { Quantity, Reading } from '../../contract/index.ts';
import type { DeepReadonly } from '../freeze.ts';
import type { PollSource } from '../poller.ts';
import type { Dlt645Bus } from './bus.ts';
import { Dlt645Error } from './errors.ts';
import { decodeRead, type Dlt645Profile } from './profile.ts';

export interface Dlt645SourceOptions {
  bus: Dlt645Bus;
  /** 12 digits, as on the meter's plate */
  address: string;
  profile: DeepReadonly<Dlt645Profile>;
  /** per request, ms */
  timeoutMs: number;
  log: Logger;
}

export class Dlt645Source implements PollSource {
  /** values dropped because their bytes were not BCD */
  notBcd = 0;
  private readonly reported = new Set<Quantity>();

  constructor(private readonly o: Dlt645SourceOptions) {}

  async poll(): Promise<{ values: Reading['v']; invalid: { quantity: Quantity; value: number }[] }> {
    const { bus, address, profile, timeoutMs } = this.o;
    const values: Reading['v'] = {};
    const invalid: { quantity: Quantity; value: number }[] = [];
    for (const read of profile.reads) {
      const bytes = await bus.read(address, read.di, timeoutMs);
      const r = decodeRead(read, bytes);
      if (!r.ok) throw new Dlt645Error('GW_ERR_DLT645_RESPONSE', `meter ${address}: ${r.reason}`);
      for (const e of r.elements) {
        if (e.ok) values[e.quantity] = e.value;
        else if (e.kind === 'implausible') invalid.push({ quantity: e.quantity, value: e.value });
        else {
          this.notBcd++;
          if (!this.reported.has(e.quantity)) {
            this.reported.add(e.quantity);
            this.o.log.warn({ quantity: e.quantity, reason: e.reason }, 'value is not BCD, dropped (reported once per quantity)');
          }
        }
      }
    }
    return { values, invalid };
  }
}
