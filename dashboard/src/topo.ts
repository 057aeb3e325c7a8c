/** The topology indexed for the views: by room key and by device. */
import type { Line, Room, Site, Topology, Transformer } from './model.ts';

export interface DeviceInfo {
  device: string;
  kind: 'transformer' | 'line' | 'sensor';
  site: Site;
  room: Room;
  transformer?: Transformer;
  line?: Line;
  /** short label: the line's or transformer's name, or the sensor id */
  name: string;
  /** "site · room · transformer / line" */
  path: string;
}

export interface RoomInfo {
  key: string;
  site: Site;
  room: Room;
  devices: string[];
}

export interface TopoIndex {
  topology: Topology;
  rooms: RoomInfo[];
  room(site: string, room: string): RoomInfo | undefined;
  device(id: string): DeviceInfo | undefined;
  devices: DeviceInfo[];
}

/** Room ids are unique within a site only (contract/topology.ts), so rooms are keyed by both. */
export function roomKey(site: string, room: string): string {
  return `${site}/${room}`;
}

export function indexTopology(topology: Topology): TopoIndex {
  const rooms: RoomInfo[] = [];
  const byRoom = new Map<string, RoomInfo>();
  const byDevice = new Map<string, DeviceInfo>();
  for (const site of topology.sites) {
    for (const room of site.rooms) {
      const info: RoomInfo = { key: roomKey(site.id, room.id), site, room, devices: [] };
      const add = (d: DeviceInfo) => {
        if (byDevice.has(d.device)) return;
        byDevice.set(d.device, d);
        info.devices.push(d.device);
      };
      for (const tr of room.transformers) {
        if (tr.meter) add({ device: tr.meter, kind: 'transformer', site, room, transformer: tr, name: tr.name, path: `${site.name} · ${room.name} · ${tr.name}` });
        for (const line of tr.lines)
          if (line.meter) add({ device: line.meter, kind: 'line', site, room, transformer: tr, line, name: line.name, path: `${site.name} · ${room.name} · ${tr.name} / ${line.name}` });
      }
      for (const s of room.sensors) add({ device: s, kind: 'sensor', site, room, name: s, path: `${site.name} · ${room.name} · ${s}` });
      rooms.push(info);
      byRoom.set(info.key, info);
    }
  }
  return {
    topology,
    rooms,
    room: (s, r) => byRoom.get(roomKey(s, r)),
    device: (id) => byDevice.get(id),
    devices: [...byDevice.values()],
  };
}
