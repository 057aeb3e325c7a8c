/**
 * The county-sized grid `npm start` runs: supply stations (供电所) → distribution
 * rooms → transformers → lines, a meter on every transformer and line, room
 * sensors, and how each meter is wired (Modbus TCP gateway with a mix of
 * DTSU666 / EM24 / SDM630 / ADW300, or DL/T 645-2007 behind a transparent TCP
 * gateway). Pure and deterministic: the same seed gives the same grid, so a
 * storyline can name its rooms, transformers and meters.
 *
 * Ids: site `s<k>`, room `r-<k><nn>` (r-101 … r-610), agent `room-<k><nn>`,
 * transformer `t-<k><nn>-<i>`, line `l-<k><nn>-<i>-<j>`, meters `m-<k><nn>-t<i>`
 * and `m-<k><nn>-l<i><j>`, sensors `th-`, `door-`, `txt-`, `water-`, `smoke-<k><nn>`.
 */
import { stringify } from 'yaml';
import type { Topology } from '../contract/index.ts';
import type { MeterProfile, MeterType, SensorConfigInput } from '../simulators/index.ts';
import { prng as rng } from '../simulators/prng.ts';
import { addFeedersAndCustomers, subsetFeedersAndCustomers } from './demo-customers.ts';

export type DemoMeterBus = { kind: 'modbus'; type: MeterType; unit: number } | { kind: 'dlt645'; address: string };

export interface DemoMeter {
  id: string;
  role: 'transformer' | 'line';
  transformer: string;
  /** the load curve */
  profile: MeterProfile;
  /** active power at the curve's peak, kW */
  ratedKw: number;
  /** the transformer's rating (its own meter) */
  ratedKva?: number;
  /** active power at full rated load, kW: an overload's factor in the demo storyline is relative to it */
  fullKw: number;
  bus: DemoMeterBus;
  seed: number;
  /** a transformer's meter: the technical loss of its area (fraction of what its lines draw, 0.02 … 0.05); it reports its lines' load plus this */
  lossFraction?: number;
  /** a line meter that reads less than its line draws (energy theft): its reading as a fraction of the true load */
  readingFactor?: number;
}

export interface DemoRoom {
  id: string;
  site: string;
  name: string;
  agent: string;
  meters: DemoMeter[];
  sensors: Array<SensorConfigInput & { id: string }>;
}

export interface DemoGrid {
  seed: number;
  topology: Topology;
  rooms: DemoRoom[];
}

export interface DemoGridOptions {
  seed?: number;
  /** supply stations, default 6 */
  stations?: number;
  /** rooms per station, default 10 */
  roomsPerStation?: number;
}

const STATIONS = ['城关供电所', '城东供电所', '河西供电所', '新城供电所', '桥头供电所', '临江供电所', '青石供电所', '白沙供电所', '龙泉供电所'];
const PLACES = [
  '锦绣花园', '滨江商业广场', '人民医院', '实验中学', '阳光小区', '县政府大院', '金桥工业园', '汽车站', '幸福里', '翠湖苑',
  '第一小学', '农贸市场', '凤凰城', '供销大厦', '丽景湾', '南门老街', '污水处理厂', '自来水厂', '体育中心', '万家超市',
  '电子产业园', '东方家园', '书香名邸', '物流园', '高铁站', '文化广场', '中医院', '职业技术学院', '桂花园', '新华书店',
  '水岸华庭', '西城印象', '开发区管委会', '天然气站', '粮食储备库', '星河湾', '同心村', '柳树湾村', '石桥村', '红星村',
];
const ROOM_KINDS = ['配电房', '配电房', '配电房', '开闭所', '箱变'];
const LINE_NAMES = ['1号楼出线', '2号楼出线', '3号楼出线', '商铺出线', '照明出线', '空调出线', '水泵出线', '充电桩出线', '备用出线', '办公楼出线', '车间出线', '路灯出线'];
const KVA = [400, 500, 630, 800, 1000, 1250];
const LINE_A = [160, 250, 250, 400, 400, 630];
const TX_TYPES: MeterType[] = ['dtsu666', 'adw300'];
const LINE_TYPES: MeterType[] = ['dtsu666', 'em24', 'sdm630', 'adw300'];
/**
 * The one abnormal area of the demo (docs/demo.md): the meter of the area's
 * largest line is bypassed in part, so the area's line loss is about 15 %
 * instead of its technical 2–5 %.
 */
export const THEFT_AREA = { transformer: 't-108-2', areaLoss: 0.15 } as const;
/** lines are scaled to at most this much of their peak (60 % of rating) so the area's sum stays near the transformer's */
const LINE_SCALE_MAX = 1.4;


export function generateDemoGrid(opts: DemoGridOptions = {}): DemoGrid {
  const seed = opts.seed ?? 1;
  const nStations = Math.min(opts.stations ?? 6, STATIONS.length);
  const perStation = Math.min(opts.roomsPerStation ?? 10, 99);
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const places = [...PLACES];
  // a seeded shuffle: room names differ between seeds but never repeat within a grid
  for (let i = places.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [places[i], places[j]] = [places[j]!, places[i]!];
  }
  const rooms: DemoRoom[] = [];
  const topology: Topology = { sites: [] };
  let meterSeed = 1;
  let address = 1;
  for (let k = 1; k <= nStations; k++) {
    const site = { id: `s${k}`, name: STATIONS[k - 1]!, rooms: [] as Topology['sites'][number]['rooms'] };
    topology.sites.push(site);
    for (let n = 1; n <= perStation; n++) {
      const code = `${k}${String(n).padStart(2, '0')}`;
      const idx = rooms.length;
      const place = places[idx % places.length]!;
      const roomName = `${place}${idx >= places.length ? Math.floor(idx / places.length) + 1 : ''}${pick(ROOM_KINDS)}`;
      // every fourth room reads its line meters over DL/T 645 through a transparent TCP gateway
      const dlt645Lines = n % 4 === 2;
      const profile: MeterProfile = pick(['residential', 'residential', 'commercial', 'feeder']);
      const nTx = r() < 0.5 ? 2 : 3;
      const meters: DemoMeter[] = [];
      const transformers: Topology['sites'][number]['rooms'][number]['transformers'] = [];
      let unit = 1;
      for (let i = 1; i <= nTx; i++) {
        const ratedKva = pick(KVA);
        const tId = `t-${code}-${i}`;
        const tMeter = `m-${code}-t${i}`;
        // the transformer meter peaks near 55 % of its rating
        const txSeed = meterSeed++;
        // technical loss 2–5 %, from its own generator so the grid's other draws stay as they were
        const lossFraction = Math.round((0.02 + 0.03 * rng(txSeed * 7919 + seed)()) * 1e4) / 1e4;
        const txMeter: DemoMeter = { id: tMeter, role: 'transformer', transformer: tId, profile: 'feeder', ratedKw: ratedKva * 0.55, ratedKva, fullKw: ratedKva * 0.95, bus: { kind: 'modbus', type: pick(TX_TYPES), unit: unit++ }, seed: txSeed, lossFraction };
        meters.push(txMeter);
        const lineMeters: DemoMeter[] = [];
        const nLines = r() < 0.15 ? 2 : r() < 0.6 ? 3 : 4;
        const lines = [];
        for (let j = 1; j <= nLines; j++) {
          const ratedCurrentA = pick(LINE_A);
          const lMeter = `m-${code}-l${i}${j}`;
          lines.push({ id: `l-${code}-${i}-${j}`, name: `${i}#${pick(LINE_NAMES)}`, ratedCurrentA, meter: lMeter });
          // a line peaks near 60 % of its rating: 3 × 220 V × I × pf
          const ratedKw = ((3 * 220 * ratedCurrentA * 0.95) / 1000) * 0.6;
          const bus: DemoMeterBus = dlt645Lines ? { kind: 'dlt645', address: String(address++).padStart(12, '0') } : { kind: 'modbus', type: pick(LINE_TYPES), unit: unit++ };
          lineMeters.push({ id: lMeter, role: 'line', transformer: tId, profile, ratedKw, fullKw: ratedKw / 0.6, bus, seed: meterSeed++ });
        }
        // the transformer meter reports its lines' load plus the loss: the lines are scaled together so that sum peaks near
        // the transformer's 55 % (a line at most to 84 % of its rating; a lightly loaded transformer stays so)
        const sum = lineMeters.reduce((n, m) => n + m.ratedKw, 0);
        const scale = Math.min(LINE_SCALE_MAX, txMeter.ratedKw / ((1 + lossFraction) * sum));
        for (const m of lineMeters) m.ratedKw *= scale;
        if (tId === THEFT_AREA.transformer) {
          // the largest line's meter under-reads by as much as makes the area's loss THEFT_AREA.areaLoss
          const big = lineMeters.reduce((a, b) => (b.ratedKw > a.ratedKw ? b : a));
          const share = big.ratedKw / (sum * scale);
          big.readingFactor = Math.round((1 - (1 - (1 - THEFT_AREA.areaLoss) * (1 + lossFraction)) / share) * 1e4) / 1e4;
        }
        meters.push(...lineMeters);
        transformers.push({ id: tId, name: `${i}#配变`, ratedKva, nominalV: 220, meter: tMeter, lines });
      }
      // every 10 s: the dashboard calls a value stale after 10 s until it has seen the device's interval
      const sensors: DemoRoom['sensors'] = [
        { id: `th-${code}`, kind: 'temp_humidity', intervalMs: 10_000, baseTemp: 24 + Math.round(r() * 6), seed: k * 100 + n },
        { id: `txt-${code}`, kind: 'transformer_temp', intervalMs: 10_000, baseOil: 40 + Math.round(r() * 10), seed: k * 100 + n },
        { id: `door-${code}`, kind: 'door', intervalMs: 10_000 },
      ];
      if (n % 2 === 1) sensors.push({ id: `water-${code}`, kind: 'water', intervalMs: 10_000 });
      if (n % 3 === 1) sensors.push({ id: `smoke-${code}`, kind: 'smoke', intervalMs: 10_000 });
      const room = { id: `r-${code}`, site: site.id, name: roomName, agent: `room-${code}`, meters, sensors };
      rooms.push(room);
      site.rooms.push({ id: room.id, name: roomName, agent: room.agent, agents: [], transformers, sensors: sensors.map((s) => s.id) });
    }
  }
  // 10 kV feeders above the transformers and customers under the lines (scripts/demo-customers.ts)
  addFeedersAndCustomers(topology, { seed });
  return { seed, topology, rooms };
}

/** The grid cut down to some rooms (tests run a storyline on the rooms it names); sites without one are left out. */
export function subsetDemoGrid(grid: DemoGrid, keep: (room: DemoRoom) => boolean): DemoGrid {
  const rooms = grid.rooms.filter(keep);
  const ids = new Set(rooms.map((x) => x.id));
  const sites = grid.topology.sites.map((s) => ({ ...s, rooms: s.rooms.filter((x) => ids.has(x.id)) })).filter((s) => s.rooms.length > 0);
  return { seed: grid.seed, topology: { sites, ...subsetFeedersAndCustomers(grid.topology, sites) }, rooms };
}

export function demoGridCounts(grid: DemoGrid): { stations: number; rooms: number; transformers: number; lines: number; meters: number; dlt645Meters: number; sensors: number; feeders: number; customers: number } {
  const t = grid.topology.sites.flatMap((s) => s.rooms.flatMap((x) => x.transformers));
  const meters = grid.rooms.flatMap((x) => x.meters);
  return {
    stations: grid.topology.sites.length,
    rooms: grid.rooms.length,
    transformers: t.length,
    lines: t.reduce((n, x) => n + x.lines.length, 0),
    meters: meters.length,
    dlt645Meters: meters.filter((m) => m.bus.kind === 'dlt645').length,
    sensors: grid.rooms.reduce((n, x) => n + x.sensors.length, 0),
    feeders: grid.topology.feeders?.length ?? 0,
    customers: grid.topology.customers?.length ?? 0,
  };
}

/** The topology as YAML, for the server's topology file. */
export function demoTopologyYaml(grid: DemoGrid): string {
  return `# generated by scripts/demo-grid.ts (seed ${grid.seed}); npm start writes it again at every start\n${stringify(grid.topology)}`;
}
