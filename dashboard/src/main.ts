/**
 * First dashboard page: live values of every device, grouped by site and
 * room, honest about freshness (stale and comm-loss values are greyed with
 * their age, never shown as live). Grows into the full console (issue 6).
 */
type Quality = 'good' | 'stale' | 'comm_loss';
interface LiveReading {
  site: string; room: string; transformer: string; line: string; device: string;
  ts: number; q: Quality; late: boolean; v: Record<string, number>; goodTs: number | null;
}
interface Line { id: string; name: string; meter?: string; ratedCurrentA?: number }
interface Transformer { id: string; name: string; ratedKva: number; meter?: string; lines: Line[] }
interface Room { id: string; name: string; transformers: Transformer[]; sensors: string[] }
interface Site { id: string; name: string; rooms: Room[] }

/** a good reading older than this is shown as stale (the agent polls every second) */
const STALE_AFTER_MS = 10_000;
const COLUMNS: Array<{ q: string; label: string; cls?: string; digits: number }> = [
  { q: 'ua', label: 'Ua V', cls: 'pa', digits: 1 }, { q: 'ub', label: 'Ub V', cls: 'pb', digits: 1 }, { q: 'uc', label: 'Uc V', cls: 'pc', digits: 1 },
  { q: 'ia', label: 'Ia A', cls: 'pa', digits: 1 }, { q: 'ib', label: 'Ib A', cls: 'pb', digits: 1 }, { q: 'ic', label: 'Ic A', cls: 'pc', digits: 1 },
  { q: 'p', label: 'P kW', digits: 1 }, { q: 'q', label: 'Q kvar', digits: 1 }, { q: 'pf', label: 'PF', digits: 3 },
  { q: 'f', label: 'f Hz', digits: 2 }, { q: 'ep_imp', label: '正向 kWh', digits: 1 },
];

const latest = new Map<string, LiveReading>();
let sites: Site[] = [];
const rows = new Map<string, HTMLTableRowElement>();
const connEl = document.getElementById('conn')!;
const main = document.getElementById('sites')!;

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} 秒前`;
  if (s < 3600) return `${Math.floor(s / 60)} 分钟前`;
  return `${Math.floor(s / 3600)} 小时前`;
}

function deviceTable(devices: Array<{ id: string; label: string }>): HTMLTableElement {
  const table = el('table');
  const head = el('tr');
  head.append(el('th', {}, '设备'), ...COLUMNS.map((c) => el('th', c.cls ? { class: c.cls } : {}, c.label)), el('th', {}, '状态'));
  table.append(el('thead'), el('tbody'));
  table.tHead!.append(head);
  for (const d of devices) {
    const tr = el('tr', { 'data-device': d.id, class: 'none' });
    const name = el('td', { class: 'name' }, d.label);
    name.append(el('small', {}, d.id));
    tr.append(name, ...COLUMNS.map((c) => el('td', { class: `v ${c.cls ?? ''}`, 'data-q': c.q }, '—')), el('td', { class: 'state' }));
    rows.set(d.id, tr);
    table.tBodies[0]!.append(tr);
  }
  return table;
}

function render(): void {
  main.replaceChildren();
  rows.clear();
  const placed = new Set<string>();
  for (const site of sites) {
    for (const room of site.rooms) {
      const sec = el('section', { class: 'room', 'data-room': room.id });
      const h = el('h2', {}, `${site.name} · ${room.name}`);
      h.append(el('small', {}, `${room.transformers.length} 台配变`));
      sec.append(h);
      const devices: Array<{ id: string; label: string }> = [];
      for (const t of room.transformers) {
        if (t.meter) devices.push({ id: t.meter, label: `${t.name}（${t.ratedKva} kVA）` });
        for (const l of t.lines) if (l.meter) devices.push({ id: l.meter, label: `${t.name} / ${l.name}` });
      }
      devices.forEach((d) => placed.add(d.id));
      sec.append(deviceTable(devices));
      main.append(sec);
    }
  }
  const others = [...latest.keys()].filter((d) => !placed.has(d)).sort();
  if (others.length) {
    const sec = el('section', { class: 'room', 'data-room': '' });
    sec.append(el('h2', {}, '未登记设备'));
    sec.append(deviceTable(others.map((id) => ({ id, label: latest.get(id)!.site }))));
    main.append(sec);
  }
  if (!main.children.length) main.append(el('div', { class: 'empty' }, '尚无设备数据'));
  for (const id of rows.keys()) paint(id);
}

function paint(device: string): void {
  const tr = rows.get(device);
  if (!tr) return render();
  const r = latest.get(device);
  const now = Date.now();
  const quality: Quality | 'none' = !r ? 'none' : r.q === 'good' && now - r.ts > STALE_AFTER_MS ? 'stale' : r.q;
  tr.className = quality;
  for (const td of tr.querySelectorAll<HTMLTableCellElement>('td.v')) {
    const col = COLUMNS.find((c) => c.q === td.dataset.q)!;
    const v = r?.v[col.q];
    td.textContent = v === undefined ? '—' : v.toFixed(col.digits);
  }
  const state = tr.querySelector('td.state')!;
  const label = { good: '实时', stale: '数据陈旧', comm_loss: '通信中断', none: '无数据' }[quality];
  const badge = el('span', { class: `q q-${quality}` }, label);
  state.replaceChildren(badge);
  if (r && quality !== 'good') state.append(` ${age(now - (r.goodTs ?? r.ts))}`);
}

function setConn(state: 'open' | 'connecting' | 'closed'): void {
  connEl.className = `conn conn-${state}`;
  connEl.textContent = { open: '实时连接', connecting: '连接中…', closed: '连接断开，重连中' }[state];
  connEl.dataset.state = state;
}

let retry = 0;
function connect(): void {
  setConn('connecting');
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  ws.onopen = () => {
    retry = 0;
    setConn('open');
  };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(String(ev.data)) as { type: string; readings?: LiveReading[] };
    if (msg.type === 'snapshot') {
      latest.clear();
      for (const r of msg.readings ?? []) latest.set(r.device, r);
      render();
    } else if (msg.type === 'readings') {
      for (const r of msg.readings ?? []) {
        latest.set(r.device, r);
        paint(r.device);
      }
    }
  };
  ws.onclose = async () => {
    setConn('closed');
    // a refused upgrade looks like a close: ask whether the session is still good
    const me = await fetch('./api/me').catch(() => null);
    if (me?.status === 401) {
      started = false;
      return showLogin('会话已过期，请重新登录');
    }
    // resync from a fresh snapshot on reconnect; capped backoff with jitter
    const delay = Math.min(10_000, 500 * 2 ** retry++) * (0.5 + Math.random() / 2);
    setTimeout(connect, delay);
  };
}

const loginForm = document.getElementById('login') as HTMLFormElement;
const loginError = document.getElementById('login-error')!;
const whoEl = document.getElementById('who')!;
const logoutBtn = document.getElementById('logout') as HTMLButtonElement;

function showLogin(message = ''): void {
  main.replaceChildren();
  loginForm.hidden = false;
  logoutBtn.hidden = true;
  whoEl.textContent = '';
  loginError.textContent = message;
  connEl.className = 'conn conn-closed';
  connEl.textContent = '未登录';
  connEl.dataset.state = 'logged-out';
}

loginForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const data = new FormData(loginForm);
  const res = await fetch('./api/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: data.get('username'), password: data.get('password') }),
  });
  if (res.ok) {
    loginForm.hidden = true;
    loginForm.reset();
    void boot();
    return;
  }
  const code = ((await res.json().catch(() => null)) as { error?: { code?: string } } | null)?.error?.code;
  loginError.textContent = code === 'GW_ERR_AUTH_RATE_LIMITED' ? '失败次数过多，请稍后再试' : '用户名或密码错误';
});

logoutBtn.addEventListener('click', async () => {
  await fetch('./api/logout', { method: 'POST' });
  location.reload();
});

let started = false;
async function boot(): Promise<void> {
  const me = await fetch('./api/me');
  if (me.status === 401) return showLogin();
  const user = (await me.json()) as { username: string; role: string };
  whoEl.textContent = `${user.username}（${{ viewer: '值班查看', operator: '调度员', admin: '管理员' }[user.role] ?? user.role}）`;
  logoutBtn.hidden = false;
  const res = await fetch('./api/topology');
  sites = ((await res.json()) as { sites: Site[] }).sites;
  render();
  if (started) return;
  started = true;
  connect();
  // ages and staleness move even when no message arrives
  setInterval(() => rows.forEach((_tr, id) => paint(id)), 1000);
}

void boot();
