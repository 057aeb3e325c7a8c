/**
 * The demo grid's 10 kV feeders and customers (docs/contract.md, Topology):
 * three feeders per supply station leaving a 110 kV substation, every
 * transformer on one of them, and customers under every low-voltage line —
 * households with a head of household's mobile, shops, works in the
 * industrial parks, farms in the villages, and the important customers of
 * the places that have one (hospitals, water works, the county offices …)
 * with an electrical contact and a duty room. Pure and deterministic: its own
 * seeded stream, so the grid's rooms and meters stay what they were.
 * Phone numbers are made up; the demo sends its notices to a test gateway on
 * loopback (simulators/sms-gateway.ts).
 */
import type { Customer, Feeder, Topology } from '../contract/index.ts';
import { prng } from '../simulators/prng.ts';

const SURNAMES = ['王', '李', '张', '刘', '陈', '杨', '黄', '赵', '吴', '周', '徐', '孙', '马', '朱', '胡', '郭', '何', '林', '罗', '高', '郑', '梁', '谢', '宋', '唐', '许', '邓', '冯', '韩', '曹'];
const GIVEN = ['伟', '芳', '娜', '敏', '静', '丽', '强', '磊', '军', '洋', '勇', '艳', '杰', '娟', '涛', '明', '超', '秀英', '霞', '平', '刚', '桂英', '建华', '志强', '海燕', '晓东', '红梅', '国庆', '建国', '文静'];
const SHOPS = ['便利店', '五金店', '药店', '餐馆', '理发店', '水果店', '快递站', '早餐店', '干洗店', '茶叶店'];
const WORKS = ['机械厂', '塑料制品厂', '电子元件厂', '食品加工厂', '包装材料厂', '纺织厂'];
const FARMS = ['养殖场', '蔬菜大棚', '灌溉泵站', '粮食烘干点'];
const MOBILE = ['139', '138', '137', '158', '186', '188', '135', '150'];

/** Places whose customer is important (重要客户): the name of the customer and the contact's role. */
const IMPORTANT: Array<[RegExp, string]> = [
  [/人民医院/, '县人民医院'],
  [/中医院/, '县中医院'],
  [/自来水厂/, '县自来水厂'],
  [/污水处理厂/, '县污水处理厂'],
  [/天然气站/, '城市燃气门站'],
  [/县政府大院/, '县人民政府'],
  [/高铁站/, '高铁站站房'],
  [/汽车站/, '汽车客运站'],
  [/粮食储备库/, '县粮食储备库'],
];

export interface DemoCustomerOptions {
  seed?: number;
  /** feeders per station, default 3 */
  feedersPerStation?: number;
}

/** Adds `feeders`, every transformer's `feeder` and `customers` to a generated grid's topology (in place) and returns it. */
export function addFeedersAndCustomers(topology: Topology, opts: DemoCustomerOptions = {}): Topology {
  const r = prng((opts.seed ?? 1) * 7919 + 17);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const perStation = opts.feedersPerStation ?? 3;
  const feeders: Feeder[] = [];
  const customers: Customer[] = [];
  const mobile = () => `${pick(MOBILE)}${String(Math.floor(r() * 1e8)).padStart(8, '0')}`;
  const person = () => `${pick(SURNAMES)}${pick(GIVEN)}`;
  const ORDINAL = ['一', '二', '三', '四', '五', '六'];
  let account = 0;
  const usedNames = new Set<string>();
  topology.sites.forEach((site, k) => {
    const town = site.name.replace(/供电所$/, '');
    const own = Array.from({ length: perStation }, (_, j): Feeder => ({ id: `f-${site.id}-${j + 1}`, name: `10kV ${town}${ORDINAL[j] ?? j + 1}线`, substation: `110kV ${town}变` }));
    feeders.push(...own);
    site.rooms.forEach((room, n) => {
      const place = room.name;
      let important = IMPORTANT.find(([re]) => re.test(place))?.[1];
      // one county hospital: the second of a kind is the town's
      if (important && usedNames.has(important)) important = `${town}镇${important.replace(/^县/, '')}`;
      if (important) usedNames.add(important);
      const industrial = /工业园|产业园|物流园/.test(place);
      const village = /村/.test(place);
      room.transformers.forEach((tr, i) => {
        tr.feeder = own[(n + i) % own.length]!.id;
        tr.lines.forEach((line, j) => {
          const base = `c-${line.id.slice(2)}`;
          const add = (c: Omit<Customer, 'site' | 'transformer' | 'line' | 'id' | 'account'>, suffix: string) =>
            customers.push({ id: `${base}-${suffix}`, account: `31${String(k + 1).padStart(2, '0')}${String(++account).padStart(6, '0')}`, site: site.id, transformer: tr.id, line: line.id, ...c });
          if (important && i === 0 && j === 0) {
            add({ name: important, category: 'public', important: true, contacts: [{ name: person(), role: '电气联系人', phone: mobile() }, { name: `${important}值班室`, role: '值班室', phone: mobile() }] }, 'v');
          }
          if (industrial && j === 0) add({ name: `${place.slice(0, 4)}${pick(WORKS)}`, category: 'industrial', important: false, contacts: [{ name: person(), role: '电气联系人', phone: mobile() }, { name: person(), role: '法人', phone: mobile() }] }, 'w');
          if (village && j === 0) add({ name: `${place.replace(/配电房|箱变|开闭所/g, '')}${pick(FARMS)}`, category: 'agricultural', important: false, contacts: [{ name: person(), role: '户主', phone: mobile() }] }, 'a');
          if (r() < 0.4) add({ name: `${pick(SURNAMES)}记${pick(SHOPS)}`, category: 'commercial', important: false, contacts: [{ name: person(), role: '店主', phone: mobile() }] }, 's');
          const households = 2 + Math.floor(r() * 4);
          for (let h = 1; h <= households; h++) {
            const name = person();
            // a few households have no mobile on record: known, but no notice can reach them
            const contacts = r() < 0.04 ? [{ name, role: '户主' }] : [{ name, role: '户主', phone: mobile() }];
            add({ name, category: 'residential', important: false, contacts }, `h${h}`);
          }
        });
      });
    });
  });
  topology.feeders = feeders;
  topology.customers = customers;
  return topology;
}

/** Feeders and customers of the sites a cut-down grid keeps. */
export function subsetFeedersAndCustomers(full: Topology, sites: Topology['sites']): Pick<Topology, 'feeders' | 'customers'> {
  const trs = new Set(sites.flatMap((s) => s.rooms.flatMap((x) => x.transformers.map((tr) => `${s.id}/${tr.id}`))));
  const used = new Set(sites.flatMap((s) => s.rooms.flatMap((x) => x.transformers.map((tr) => tr.feeder ?? ''))));
  return {
    ...(full.feeders ? { feeders: full.feeders.filter((f) => used.has(f.id)) } : {}),
    ...(full.customers ? { customers: full.customers.filter((c) => trs.has(`${c.site}/${c.transformer}`)) } : {}),
  };
}
