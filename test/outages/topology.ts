/** The topology YAML of the outage pool's server tests: feeder F1 (T1, T2), T3 alone, customers with contacts. */
export const POOL_TOPOLOGY = `
feeders:
  - { id: F1, name: 10kV 东一线 }
sites:
  - id: s1
    name: 东区
    rooms:
      - id: r1
        name: 一号配电室
        agent: agent-p1
        transformers:
          - { id: T1, name: 1号变, ratedKva: 400, feeder: F1, meter: mT1, lines: [{ id: L1, name: L1, meter: mL1 }] }
          - { id: T2, name: 2号变, ratedKva: 400, feeder: F1, meter: mT2, lines: [{ id: L2, name: L2, meter: mL2 }] }
          - { id: T3, name: 3号变, ratedKva: 400, meter: mT3, lines: [{ id: L3, name: L3, meter: mL3 }] }
  - id: s2
    name: 西区
    rooms:
      - id: r1
        name: 西配电室
        transformers:
          - { id: T9, name: 9号变, ratedKva: 400, meter: mT9 }
customers:
  - { id: C1, name: 张三, site: s1, transformer: T1, line: L1, contacts: [{ name: 张三, phone: '13800000001' }, { name: 张三妻, phone: '13800000011' }] }
  - { id: C2, name: 人民医院, important: true, site: s1, transformer: T1, line: L1, contacts: [{ name: 王, phone: '13800000002' }] }
  - { id: C3, name: 李四, site: s1, transformer: T2, line: L2, contacts: [{ name: 李四, phone: '13800000003' }] }
  - { id: C4, name: 赵五, site: s1, transformer: T3, line: L3, contacts: [{ name: 赵五, phone: '13800000004' }] }
  - { id: C9, name: 西户, site: s2, transformer: T9, contacts: [{ name: 西户, phone: '13800000009' }] }
`;
