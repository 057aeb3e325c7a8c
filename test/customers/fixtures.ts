/** The topology of the customer tests: two stations, three transformers on two 10 kV feeders, one customer of its own. */
export const TOPOLOGY = `
feeders:
  - { id: F1, name: 10kV 东一线, substation: 东区站 }
  - { id: F2, name: 10kV 东二线 }
sites:
  - id: imp1
    name: 东区供电所
    rooms:
      - id: r1
        name: R1
        transformers:
          - { id: T1, name: 东一台区, ratedKva: 400, feeder: F1, lines: [{ id: L1, name: 1号出线 }, { id: L2, name: 2号出线 }] }
          - { id: T2, name: 东二台区, ratedKva: 400, feeder: F1 }
          - { id: T3, name: 东三台区, ratedKva: 400, feeder: F2 }
  - id: imp2
    name: 西区供电所
    rooms:
      - id: r1
        name: R1
        transformers:
          - { id: T1, name: 西一台区, ratedKva: 400 }
customers:
  - { id: Y1, name: 人民医院, category: public, important: true, site: imp1, transformer: T1, line: L1, contacts: [{ name: 王工, phone: '13800000001' }] }
`;
