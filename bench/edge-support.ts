/**
 * What bench/edge.ts needs besides the agent: the two meter types the
 * simulators serve and the reads they take, the raw Modbus ceiling with bare
 * clients, and a process's resident memory split by kind.
 */
import { readFileSync } from 'node:fs';
import modbusSerial from 'modbus-serial';

export const TYPES = ['sdm630', 'dtsu666'] as const;
/** tags each profile decodes, and the reads it takes (edge-agent/profiles) */
export const READS: Record<(typeof TYPES)[number], { fc: 3 | 4; address: number; count: number }[]> = {
  sdm630: [{ fc: 4, address: 0, count: 0x4c }],
  dtsu666: [
    { fc: 3, address: 0x2000, count: 0x46 },
    { fc: 3, address: 0x401e, count: 12 },
  ],
};
export const TAGS: Record<(typeof TYPES)[number], number> = { sdm630: 16, dtsu666: 18 };
export const typeOf = (unit: number) => TYPES[(unit - 1) % TYPES.length]!;

/** Bare clients, one per port, reading every unit's blocks in turn as fast as answered. */
export async function ceiling(ports: number[], units: number, seconds: number): Promise<{ tagsPerS: number; requestsPerS: number }> {
  const ModbusRTU = modbusSerial.default;
  let tags = 0;
  let requests = 0;
  const until = Date.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(
    ports.map(async (port) => {
      const c = new ModbusRTU();
      await c.connectTCP('127.0.0.1', { port });
      c.setTimeout(1000);
      let unit = 1;
      while (Date.now() < until) {
        c.setID(unit);
        const t = typeOf(unit);
        for (const r of READS[t]) {
          if (r.fc === 3) await c.readHoldingRegisters(r.address, r.count);
          else await c.readInputRegisters(r.address, r.count);
          requests++;
        }
        tags += TAGS[t];
        unit = (unit % units) + 1;
      }
      await new Promise<void>((r) => c.close(() => r()));
    }),
  );
  const s = (performance.now() - t0) / 1000;
  return { tagsPerS: tags / s, requestsPerS: requests / s };
}

/** RssAnon and RssFile of a process, MB (Linux /proc) */
export function procRss(pid: number): { anon: number; file: number } {
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(st)?.[1] ?? Number.NaN);
    return { anon: kb('RssAnon') / 1024, file: kb('RssFile') / 1024 };
  } catch {
    return { anon: Number.NaN, file: Number.NaN };
  }
}
