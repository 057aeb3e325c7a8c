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

/**
 * The largest parts of a process's resident memory by mapping (`/proc/<pid>/smaps`):
 * the node binary, `[heap]` (malloc), anonymous mappings (V8's heap pages,
 * thread stacks, malloc arenas) summed, each shared library; MB, largest first.
 */
export function smapsTop(pid: number, n = 8): { name: string; anonMb: number; fileMb: number }[] {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return [];
  }
  const by = new Map<string, { anon: number; file: number }>();
  let name = '';
  for (const line of text.split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      name = head[1] || '(anonymous)';
      continue;
    }
    const kb = /^(Anonymous|Rss):\s+(\d+) kB/.exec(line);
    if (!kb) continue;
    const e = by.get(name) ?? { anon: 0, file: 0 };
    // Rss counts both; Anonymous is the private part of it that no file backs
    if (kb[1] === 'Rss') e.file += Number(kb[2]);
    else {
      e.anon += Number(kb[2]);
      e.file -= Number(kb[2]);
    }
    by.set(name, e);
  }
  return [...by]
    .map(([k, v]) => ({ name: k, anonMb: v.anon / 1024, fileMb: v.file / 1024 }))
    .sort((a, b) => b.anonMb + b.fileMb - (a.anonMb + a.fileMb))
    .slice(0, n);
}
