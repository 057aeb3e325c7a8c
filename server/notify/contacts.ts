/**
 * The contact directory: people of the command center and the supply
 * stations (id, name, phone, roles, the stations they answer for), kept in
 * `<dataDir>/contacts.json` (replaced whole through PUT /api/contacts,
 * written atomically) and seeded from `notify.contactsFile` (YAML) while no
 * directory was saved. Notices to staff are routed by role and station.
 */
import { mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { phone } from '../../contract/index.ts';
import { ConfigError } from '../errors.ts';

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be an id of letters, digits, _ . - (max 64)');

export const PersonSchema = z.strictObject({
  id,
  name: z.string().min(1).max(100),
  phone,
  /** what the person does: dispatcher, on_call, station_head, leader … (free ids) */
  roles: z.array(id).min(1),
  /** site ids the person answers for; empty: every station (the command center) */
  stations: z.array(id).default([]),
  /** false: kept in the directory, receives nothing */
  active: z.boolean().default(true),
});
export type Person = z.infer<typeof PersonSchema>;

export const DirectorySchema = z.strictObject({ people: z.array(PersonSchema) });

/** Validates a directory document; every problem by path, ids unique. */
export function parseDirectory(doc: unknown): { ok: true; people: Person[] } | { ok: false; errors: string[] } {
  const r = DirectorySchema.safeParse(doc);
  if (!r.success) return { ok: false, errors: r.error.issues.map((i) => `${i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('').replace(/^\./, '') || '(root)'}: ${i.message}`) };
  const seen = new Map<string, number>();
  const errors: string[] = [];
  r.data.people.forEach((p, i) => {
    const first = seen.get(p.id);
    if (first !== undefined) errors.push(`people[${i}].id: duplicate person id "${p.id}" (first at people[${first}])`);
    else seen.set(p.id, i);
  });
  return errors.length ? { ok: false, errors } : { ok: true, people: r.data.people };
}

export class ContactDirectory {
  private people: Person[] = [];
  private readonly file: string;

  constructor(private readonly o: { dataDir: string; seedFile?: string }) {
    this.file = path.join(o.dataDir, 'contacts.json');
  }

  async start(): Promise<void> {
    let text: string | null = null;
    let source = this.file;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (text === null && this.o.seedFile) {
      source = this.o.seedFile;
      text = await readFile(this.o.seedFile, 'utf8');
    }
    if (text === null) return;
    let doc: unknown;
    try {
      doc = parseYaml(text);
    } catch (e) {
      throw new ConfigError(source, [`YAML: ${(e as Error).message}`]);
    }
    const r = parseDirectory(doc);
    if (!r.ok) throw new ConfigError(source, r.errors);
    this.people = r.people;
  }

  list(): readonly Person[] {
    return this.people;
  }

  /** Replaces the directory; the document is checked first and nothing changes when it is invalid. */
  async replace(doc: unknown): Promise<{ ok: true; people: Person[] } | { ok: false; errors: string[] }> {
    const r = parseDirectory(doc);
    if (!r.ok) return r;
    await mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.tmp`;
    const fh = await open(tmp, 'w');
    try {
      await fh.write(JSON.stringify({ people: r.people }, null, 1));
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.file);
    this.people = r.people;
    return r;
  }

  /** Active people with one of `roles` who answer for `site` (or for every station); no site: everyone with the role. */
  route(roles: readonly string[], site?: string): Person[] {
    return this.people.filter((p) => p.active && p.roles.some((r) => roles.includes(r)) && (site === undefined || p.stations.length === 0 || p.stations.includes(site)));
  }
}
