/**
 * Which DL/T 645 meters answer on a bus. Two ways, as the standard allows:
 * - 13H to AA×6 asks "whoever is there" for its address; it works on a bus
 *   with one meter. With several, they all answer at once and the line
 *   carries a garble: that is reported as such, not as an address.
 * - probing a list of addresses with a short read (11H, phase A voltage):
 *   a meter that answers at all, normally or abnormally, is there.
 */
import type { Dlt645Bus } from './bus.ts';
import { Dlt645Error } from './errors.ts';

/** what a probe reads: phase A voltage, which every meter with a voltage input has */
export const PROBE_IDENTIFIER = '02010100';
/** the most addresses one range may name */
export const MAX_PROBE_ADDRESSES = 10_000;

export type AddressReadResult =
  | { kind: 'found'; address: string }
  | { kind: 'none'; detail: string }
  /** more than one meter answered (or the line is noisy): probe a list instead */
  | { kind: 'garbled'; detail: string }
  | { kind: 'error'; detail: string };

export interface ProbeResult {
  address: string;
  /** answered: normally, or abnormally (it is there, but refused the read) */
  present: boolean;
  detail: string;
}

/** 13H on a single-meter bus. */
export async function readBusAddress(bus: Dlt645Bus, timeoutMs: number): Promise<AddressReadResult> {
  try {
    return { kind: 'found', address: await bus.readAddress(timeoutMs) };
  } catch (err) {
    const e = err as Dlt645Error;
    if (e.code === 'GW_ERR_DLT645_TIMEOUT') return { kind: 'none', detail: `no meter answered 13H within ${timeoutMs} ms` };
    if (e.code === 'GW_ERR_DLT645_FRAME') return { kind: 'garbled', detail: `the answer to 13H did not decode (${e.message}); with several meters on the bus they answer at once: probe a list of addresses` };
    return { kind: 'error', detail: `${e.code ?? 'error'}: ${e.message}` };
  }
}

/** Probes each address in turn (one request at a time, as on any 645 bus); throws the Dlt645Error when the bus cannot be opened. */
export async function probeAddresses(bus: Dlt645Bus, addresses: readonly string[], timeoutMs: number, onResult?: (r: ProbeResult) => void): Promise<ProbeResult[]> {
  const out: ProbeResult[] = [];
  for (const address of addresses) {
    let r: ProbeResult;
    try {
      const v = await bus.read(address, PROBE_IDENTIFIER, timeoutMs);
      r = { address, present: true, detail: `answered ${PROBE_IDENTIFIER} (${v.length} value bytes)` };
    } catch (err) {
      const e = err as Dlt645Error;
      // the bus itself cannot be opened: no probe can tell anything
      if (e.code === 'GW_ERR_DLT645_CONNECT') throw err;
      if (e.code === 'GW_ERR_DLT645_METER') r = { address, present: true, detail: `answered abnormally: ${e.message}` };
      else if (e.code === 'GW_ERR_DLT645_TIMEOUT') r = { address, present: false, detail: 'no answer' };
      else r = { address, present: false, detail: `${e.code ?? 'error'}: ${e.message}` };
    }
    out.push(r);
    onResult?.(r);
  }
  return out;
}

/**
 * "000000000001-000000000020" or "1-20" (padded to 12 digits) or a comma list
 * of either; throws a RangeError naming what is wrong.
 */
export function parseAddressList(spec: string): string[] {
  const out: string[] = [];
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^(\d{1,12})(?:-(\d{1,12}))?$/.exec(part);
    if (!m) throw new RangeError(`"${part}": an address is up to 12 digits, a range two of them joined by -`);
    const from = BigInt(m[1]!);
    const to = m[2] === undefined ? from : BigInt(m[2]);
    if (to < from) throw new RangeError(`"${part}": the range runs backwards`);
    if (to - from + 1n + BigInt(out.length) > BigInt(MAX_PROBE_ADDRESSES)) throw new RangeError(`more than ${MAX_PROBE_ADDRESSES} addresses to probe`);
    for (let a = from; a <= to; a++) out.push(a.toString().padStart(12, '0'));
  }
  if (out.length === 0) throw new RangeError('no address given');
  return out;
}
