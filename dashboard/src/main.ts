/**
 * The dashboard shell: login, header (user and role, connection state,
 * language), hash routing between the views, and the one live feed they
 * share. Routes (deep-linkable):
 *   #/overview[?q=&sort=load&abn=1]
 *   #/room/<site>/<room>[?h=<hours of history>]
 *   #/charts[?d=<devices>&q=<quantities>&w=<15m|1h|6h|1d|7d|30d>]
 *   #/alarms[?sev=<1..4>&st=unack|active|shelved|call&q=<search>][&alarm=<id>]
 *   #/alarms?mode=hist[&hst=<state>&hsev=<1..4>&hsite=<site>&hw=<1h|24h|7d|30d|custom>&hfrom=&hto=][&alarm=<id>]
 *   #/quality[?site=<id>&day=YYYY-MM-DD|month=YYYY-MM]
 *   #/energy[?site=<id>&day=YYYY-MM-DD&area=<transformer>]
 *   #/outages[?tab=now|upcoming|history&site=<id>], #/outages/outage/<id>, #/outages/plan/<id>, #/outages/new, #/outages/import, #/outages/findings
 *   #/risk[?day=YYYY-MM-DD&code=<code>], #/risk/<station>[?day=], #/risk/items/<id>
 */
import './style.css';
import { ApiError, getMe, getTopology, login, logout, setUnauthorizedHandler, type Me } from './api.ts';
import { getLang, locale, otherLang, setLang, t, type MsgKey } from './i18n.ts';
import { Live, type ConnState } from './live.ts';
import { indexTopology, type TopoIndex } from './topo.ts';
import type { View, ViewContext } from './views/common.ts';
import { overviewView } from './views/overview.ts';
import { roomView } from './views/room.ts';
import { chartsView } from './views/charts.ts';
import { outagesView } from './views/outages.ts';
import { qualityView } from './views/quality.ts';
import { energyView } from './views/energy.ts';
import { riskView } from './views/risk.ts';
import { alarmConsole, alarmStore, callMeta, isCall, setSiteNames, titleCount, type AlarmView } from './alarms.ts';
import { passwordUi } from './password.ts';

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const connEl = $('conn');
const viewEl = $('view');
const nav = $('nav');
const navRoom = $('nav-room');
const whoEl = $('who');
const langBtn = $<HTMLButtonElement>('lang');
const logoutBtn = $<HTMLButtonElement>('logout');
const loginForm = $<HTMLFormElement>('login');
const loginError = $('login-error');
const password = passwordUi();

let me: Me | null = null;
let topo: TopoIndex | null = null;
let live: Live | null = null;
let view: View | null = null;
let ticker: ReturnType<typeof setInterval> | null = null;

// ---------------------------------------------------------------- language
function translateStatic(): void {
  paintTitle();
  for (const node of document.querySelectorAll<HTMLElement>('[data-i18n]')) node.textContent = t(node.dataset.i18n as MsgKey);
  langBtn.textContent = t('lang');
  if (me) whoEl.textContent = t('whoRole', { user: me.username, role: t(`role_${me.role}` as MsgKey) });
  paintConn();
}

langBtn.addEventListener('click', () => {
  setLang(otherLang());
  translateStatic();
  if (me) route();
});

function paintTitle(): void {
  const title = titleCount(t('pageTitle'));
  if (document.title !== title) document.title = title;
}
alarmStore.onChange(paintTitle);

// ---------------------------------------------------------------- connection state
function paintConn(): void {
  const state: ConnState | 'logged-out' = live && me ? live.state : 'logged-out';
  document.body.dataset.conn = state;
  connEl.dataset.state = state;
  connEl.dataset.snapshots = String(live?.snapshots ?? 0);
  connEl.className = `conn conn-${state === 'logged-out' ? 'closed' : state}`;
  let text = state === 'logged-out' ? t('conn_loggedOut') : t(`conn_${state}`);
  if (state === 'closed' && live?.lostAt) text += ` · ${t('connLostSince')} ${new Date(live.lostAt).toLocaleTimeString(locale(), { hour12: false })}`;
  if (connEl.textContent !== text) connEl.textContent = text;
}

// ---------------------------------------------------------------- login
function showLogin(message = ''): void {
  live?.stop();
  live = null;
  view?.destroy();
  view = null;
  me = null;
  if (ticker) clearInterval(ticker);
  ticker = null;
  viewEl.replaceChildren();
  nav.hidden = true;
  loginForm.hidden = false;
  logoutBtn.hidden = true;
  password.signedIn(false);
  whoEl.textContent = '';
  loginError.textContent = message;
  paintConn();
}

setUnauthorizedHandler(() => {
  if (me) showLogin(t('sessionExpired'));
});

loginForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const data = new FormData(loginForm);
  try {
    await login(String(data.get('username') ?? ''), String(data.get('password') ?? ''));
  } catch (e) {
    loginError.textContent = e instanceof ApiError ? (e.code === 'GW_ERR_AUTH_RATE_LIMITED' ? t('rateLimited') : t('badLogin')) : t('loginFailed');
    return;
  }
  loginForm.hidden = true;
  loginForm.reset();
  void boot();
});

logoutBtn.addEventListener('click', async () => {
  await logout();
  showLogin();
});

// ---------------------------------------------------------------- routing
interface Route {
  name: 'overview' | 'room' | 'charts' | 'alarms' | 'outages' | 'quality' | 'energy' | 'risk';
  params: string[];
  query: URLSearchParams;
}

function parseHash(): Route {
  const h = location.hash.replace(/^#\/?/, '');
  const [path = '', qs = ''] = h.split('?', 2);
  const [name = '', ...params] = path.split('/').map((s) => decodeURIComponent(s));
  const query = new URLSearchParams(qs);
  if (name === 'room' || name === 'charts' || name === 'alarms' || name === 'outages' || name === 'quality' || name === 'energy' || name === 'risk') return { name, params, query };
  return { name: 'overview', params: [], query };
}

function route(): void {
  if (!me || !topo || !live) return;
  const r = parseHash();
  view?.destroy();
  const path = location.hash.replace(/^#\/?/, '').split('?', 1)[0] || 'overview';
  const ctx: ViewContext = {
    live,
    topo,
    me,
    params: r.params,
    query: r.query,
    setQuery(q) {
      const s = q.toString();
      history.replaceState(null, '', `#/${path}${s ? `?${s}` : ''}`);
    },
    setFilter: (f) => live?.setFilter(f),
  };
  view = r.name === 'room' ? roomView(ctx) : r.name === 'charts' ? chartsView(ctx) : r.name === 'alarms' ? consoleView(ctx) : r.name === 'outages' ? outagesView(ctx) : r.name === 'quality' ? qualityView(ctx) : r.name === 'energy' ? energyView(ctx) : r.name === 'risk' ? riskView(ctx) : overviewView(ctx);
  for (const a of nav.querySelectorAll<HTMLElement>('[data-nav]')) a.classList.toggle('on', a.dataset.nav === r.name);
  const room = r.name === 'room' ? topo.room(r.params[0] ?? '', r.params[1] ?? '') : undefined;
  navRoom.hidden = !room;
  navRoom.textContent = room ? `${t('nav_room')} · ${room.room.name}` : '';
  viewEl.replaceChildren(view.root);
  viewEl.dataset.view = r.name;
  live.setFilter(view.filter);
  view.start?.();
}

addEventListener('hashchange', route);

/** The alarm console as a view: it needs no readings (alarms come on their own frames). */
function consoleView(ctx: ViewContext): View {
  const names = (a: AlarmView): string => {
    const parts: string[] = [];
    const site = ctx.topo.topology.sites.find((s) => s.id === a.site);
    parts.push(site?.name ?? a.site);
    // a one-key call names its room when the site sent one
    const roomId = a.room || (isCall(a) ? callMeta(a).room : '');
    const room = roomId ? site?.rooms.find((r) => r.id === roomId) : undefined;
    if (roomId) parts.push(room?.name ?? roomId);
    const tr = a.transformer ? room?.transformers.find((x) => x.id === a.transformer) : undefined;
    if (a.transformer) parts.push(tr?.name ?? a.transformer);
    if (a.line) parts.push(tr?.lines.find((l) => l.id === a.line)?.name ?? a.line);
    if (a.source && a.source !== a.site && !a.line && !a.transformer) parts.push(a.source);
    else if (a.source !== a.site) parts.push(`(${a.source})`);
    return parts.filter(Boolean).join(' / ');
  };
  const sites = ctx.topo.topology.sites.map((s) => ({ id: s.id, name: s.name }));
  const c = alarmConsole({ role: ctx.me.role, query: ctx.query, setQuery: ctx.setQuery, sourceName: names, sites });
  return { root: c.root, filter: null, onReadings: () => undefined, tick: () => undefined, destroy: c.destroy };
}

// ---------------------------------------------------------------- boot
async function boot(): Promise<void> {
  try {
    me = await getMe();
  } catch {
    return showLogin();
  }
  document.body.dataset.role = me.role;
  logoutBtn.hidden = false;
  password.signedIn(true);
  loginForm.hidden = true;
  topo = indexTopology(await getTopology());
  const sites = topo.topology.sites;
  setSiteNames(
    (id) => sites.find((s) => s.id === id)?.name ?? id,
    (site, room) => topo?.room(site, room)?.room.name ?? room,
  );
  nav.hidden = false;
  translateStatic();
  live?.stop();
  live = new Live(() => showLogin(t('sessionExpired')));
  alarmStore.reset();
  live.onOpen = (send) => alarmStore.connected(send);
  live.onOther = (frame) => void alarmStore.frame(frame);
  live.onState(() => {
    paintConn();
    // freshness depends on the connection: repaint now, not at the next tick
    view?.tick();
  });
  live.onReadings((readings, snapshot) => {
    if (snapshot) paintConn();
    view?.onReadings(readings, snapshot);
  });
  live.start();
  if (!location.hash) history.replaceState(null, '', '#/overview');
  route();
  if (ticker) clearInterval(ticker);
  // ages and staleness move even when no message arrives
  ticker = setInterval(() => {
    paintConn();
    view?.tick();
  }, 1000);
}

setLang(getLang());
translateStatic();
void boot();
