/**
 * Built-in rules (docs/alarms.md, Built-in rules), written in
 * the rules-file format (validated by the same schema, so a broken default
 * fails the tests). A rules file patches them by id; see schema.ts.
 *
 * They assume a 0.4 kV low side (220 V phase-neutral). A 10 kV point needs
 * its own scoped rule (GB/T 12325: ±7 % of nominal for three-phase ≤ 20 kV).
 */
export const DEFAULT_RULES = [
  {
    // GB/T 12325-2008 §4.3: 220 V single-phase supply, +7 % / −10 % of nominal
    // → 235.4 / 198 V; a statistical value, evaluated here on 1-min means.
    id: 'u-deviation',
    name: 'Supply voltage deviation (GB/T 12325)',
    kind: 'threshold',
    quantity: ['ua', 'ub', 'uc'],
    evaluate: 'mean1m',
    levels: { hi: { value: 235.4, severity: 'medium' }, lo: { value: 198, severity: 'medium' } },
    deadband: 2,
    onDelayS: 0,
    offDelayS: 300,
  },
  {
    // State Grid 低电压: household supply below 198 V for more than 1 h.
    id: 'u-low-sustained',
    name: 'Low voltage for over 1 h (低电压)',
    kind: 'threshold',
    quantity: ['ua', 'ub', 'uc'],
    evaluate: 'mean1m',
    levels: { lo: { value: 198, severity: 'high' } },
    deadband: 2,
    onDelayS: 3600,
    offDelayS: 300,
  },
  {
    // GB/T 15945-2008: ±0.2 Hz. The on-delay stands in for the 10-s
    // frequency value of IEC 61000-4-30.
    id: 'f-deviation',
    name: 'Frequency deviation (GB/T 15945)',
    kind: 'threshold',
    quantity: 'f',
    levels: { hi: { value: 50.2, severity: 'high' }, lo: { value: 49.8, severity: 'high' } },
    deadband: 0.05,
    onDelayS: 10,
    offDelayS: 10,
  },
  {
    // GB/T 15543-2008: 2 % normal (10-min values), 4 % short-time.
    // The 3-s on-delay stands in for the standard's 3-s short-time values.
    id: 'u-unbalance',
    name: 'Voltage unbalance (GB/T 15543)',
    kind: 'unbalance',
    quantity: 'u_unbalance',
    normal: { limitPct: 2, meanS: 600, severity: 'low' },
    shortTime: { limitPct: 4, severity: 'medium' },
    deadband: 0.2,
    onDelayS: 3,
    offDelayS: 60,
  },
  {
    // State Grid practice: 重载 load rate > 80 %, 过载 > 100 %, sustained 2 h.
    id: 'tx-load',
    name: 'Transformer heavy load / overload (重载/过载)',
    kind: 'threshold',
    quantity: 'load_rate',
    scope: { role: 'transformer' },
    levels: { hi: { value: 80, severity: 'medium' }, hihi: { value: 100, severity: 'high' } },
    deadband: 5,
    onDelayS: 7200,
    offDelayS: 600,
    holdS: 900,
  },
  {
    // Agents poll meters every second (config/compose/agent.yaml). Room
    // sensors report far less often: they have their own rule below. Meters
    // outside the topology are watched too (only `except` leaves devices out).
    id: 'comm-loss',
    name: 'No data from meter',
    kind: 'stale',
    except: { role: 'sensor' },
    intervals: 10,
    pollIntervalS: 1,
    severity: 'medium',
  },
  {
    // Room sensors (temperature / humidity, door contact, water, smoke)
    // report on change and at least once a minute; three missed reports
    // make an alarm.
    id: 'sensor-comm-loss',
    name: 'No data from room sensor',
    kind: 'stale',
    scope: { role: 'sensor' },
    intervals: 3,
    pollIntervalS: 60,
    severity: 'medium',
  },
  {
    id: 'outage',
    name: 'Supply outage',
    kind: 'outage',
    phases: ['ua', 'ub', 'uc'],
    darkBelowV: 22,
    deadband: 10,
    onDelayS: 2,
    offDelayS: 5,
    severity: 'critical',
  },
  {
    id: 'load-anomaly',
    name: 'Unusual load for the time of day',
    kind: 'anomaly',
    quantity: 'load_rate',
    scope: { role: ['transformer', 'line'] },
    bucketMinutes: 60,
    zLimit: 5,
    zDeadband: 1,
    minDays: 3,
    minStd: 1,
    onDelayS: 60,
    offDelayS: 300,
    severity: 'low',
  },
  {
    // An agent's spool overflowed its quota and dropped readings the
    // server never got. The agent reports the cumulative count as
    // `lost_readings` of `<agent>.spool` at start, on change, hourly and
    // after each reconnection (that one live: the change itself happens
    // while the link is down, so its own report is backfill). Any rise over
    // the window raises; the alarm returns to normal when the window holds
    // no lower count. The week spans the outages that overflow a quota (a
    // 1 GiB spool of 50 meters at 1 Hz holds about 40 h).
    id: 'spool-loss',
    name: 'Readings lost: agent spool over its quota',
    kind: 'rate_of_change',
    quantity: 'lost_readings',
    direction: 'rise',
    change: { abs: 0.5 },
    windowS: 7 * 86_400,
    holdS: 7 * 86_400,
    severity: 'high',
  },
  // ---- metering-device online monitoring (计量装置在线监测): State Grid smart-meter
  // event criteria, judged on the meters' readings (docs/alarms.md, Meter health)
  {
    // U < 78 % Un with I > 0.5 % Ib for 60 s; ends above 85 % Un
    id: 'meter-voltage-loss',
    name: 'Meter voltage loss (失压)',
    kind: 'voltage_loss',
    except: { role: 'sensor' },
    severity: 'medium',
  },
  {
    // I < 0.5 % Ib with U > 70 % Un while another phase > 5 % Ib, for 60 s
    id: 'meter-current-loss',
    name: 'Meter current loss (失流)',
    kind: 'current_loss',
    except: { role: 'sensor' },
    severity: 'medium',
  },
  {
    // p (or one phase's) < −0.1 kW for 60 s on a line meter; transformer meters may see PV export
    id: 'meter-reverse-flow',
    name: 'Reverse power on a consumer meter (潮流反向)',
    kind: 'reverse_flow',
    scope: { role: 'line' },
    severity: 'medium',
  },
  {
    // ep_imp unchanged while ∫p dt reaches 1 kWh (and three of the register's steps)
    id: 'meter-counter-stuck',
    name: 'Energy register stuck (停走)',
    kind: 'counter_stuck',
    except: { role: 'sensor' },
    severity: 'medium',
  },
  {
    // a register below the previous reading's by more than one 0.01-kWh step
    id: 'meter-counter-backwards',
    name: 'Energy register going backwards (示值下降)',
    kind: 'counter_backwards',
    except: { role: 'sensor' },
    severity: 'medium',
  },
  {
    // the meter's own clock (DL/T 645 04000101/02, a profile with `clock`) more than 5 min off the agent's:
    // its time-of-use tariffs, load profiles and event times are off by as much
    id: 'meter-clock-drift',
    name: 'Meter clock drift (时钟偏差)',
    kind: 'threshold',
    quantity: 'clock_offset',
    except: { role: 'sensor' },
    levels: { hi: { value: 300, severity: 'medium' }, lo: { value: -300, severity: 'medium' } },
    deadband: 30,
    holdS: 7200,
  },
  {
    // voltages in reverse phase sequence (电压逆相序) as the meter itself reports it: DL/T 645-2007 running status
    // word 7 (04000507) bit 0, read by a 645 profile with `status`. Line voltages alone cannot tell the sequence
    // (their magnitudes are the same either way), so a meter that does not report it raises nothing
    id: 'meter-phase-sequence',
    name: 'Phase sequence reversed (逆相序)',
    kind: 'threshold',
    quantity: 'phase_seq_rev',
    except: { role: 'sensor' },
    levels: { hi: { value: 0.5, severity: 'medium' } },
  },
  // ---- what distribution rooms report (room sensors): common practice, configurable
  {
    id: 'smoke',
    name: 'Smoke in the distribution room (烟感)',
    kind: 'threshold',
    quantity: 'smoke',
    scope: { role: 'sensor' },
    levels: { hi: { value: 0.5, severity: 'critical' } },
    offDelayS: 30,
  },
  {
    id: 'water',
    name: 'Water on the distribution-room floor (水浸)',
    kind: 'threshold',
    quantity: 'water',
    scope: { role: 'sensor' },
    levels: { hi: { value: 0.5, severity: 'high' } },
    offDelayS: 30,
  },
  {
    // working hours 08:00–18:00 Monday to Friday, China Standard Time
    id: 'door-open',
    name: 'Distribution room door open outside working hours (门禁)',
    kind: 'off_hours',
    quantity: 'door',
    scope: { role: 'sensor' },
    severity: 'medium',
  },
  {
    // DL/T 5352 and common design practice: a room kept at most 40 °C, relative humidity at most 80 %
    id: 'room-temp',
    name: 'Distribution room temperature (室温)',
    kind: 'threshold',
    quantity: 'temp',
    scope: { role: 'sensor' },
    levels: { hi: { value: 40, severity: 'medium' }, lo: { value: -5, severity: 'low' } },
    deadband: 2,
    onDelayS: 300,
    offDelayS: 300,
    holdS: 600,
  },
  {
    id: 'room-humidity',
    name: 'Distribution room humidity (湿度)',
    kind: 'threshold',
    quantity: 'humidity',
    scope: { role: 'sensor' },
    levels: { hi: { value: 80, severity: 'low' } },
    deadband: 3,
    onDelayS: 300,
    offDelayS: 300,
    holdS: 600,
  },
  {
    // oil-immersed distribution transformer, top oil: 85 °C warning, 95 °C the limit (GB/T 1094.2, DL/T 572 practice)
    id: 't-oil',
    name: 'Transformer oil temperature (油温)',
    kind: 'threshold',
    quantity: 't_oil',
    scope: { role: 'sensor' },
    levels: { hi: { value: 85, severity: 'medium' }, hihi: { value: 95, severity: 'high' } },
    deadband: 3,
    onDelayS: 60,
    offDelayS: 300,
    holdS: 600,
  },
  {
    // winding hot spot of an oil-immersed transformer: 105 °C warning, 120 °C high
    id: 't-winding',
    name: 'Transformer winding temperature (绕组温度)',
    kind: 'threshold',
    quantity: 't_winding',
    scope: { role: 'sensor' },
    levels: { hi: { value: 105, severity: 'medium' }, hihi: { value: 120, severity: 'high' } },
    deadband: 3,
    onDelayS: 60,
    offDelayS: 300,
    holdS: 600,
  },
  {
    // low-voltage outgoing line: load rate = current / rated current (lines with ratedCurrentA)
    id: 'line-load',
    name: 'Low-voltage line overload (线路过载)',
    kind: 'threshold',
    quantity: 'load_rate',
    scope: { role: 'line' },
    levels: { hi: { value: 100, severity: 'medium' }, hihi: { value: 120, severity: 'high' } },
    deadband: 5,
    onDelayS: 300,
    offDelayS: 300,
    holdS: 900,
  },
  {
    // 台区线损 judged normal between 0 % and 10 %: above it for an hour of 15-min
    // figures points at theft or wrong wiring (docs/energy.md, Alarms)
    id: 'line-loss-high',
    name: 'High line loss in transformer area (台区高损)',
    kind: 'line_loss',
    condition: 'high',
    interval: '15m',
    limitPct: 10,
    intervals: 4,
    severity: 'medium',
  },
  {
    // more sold than supplied: a meter under the wrong transformer, a wrong CT ratio, a reversed meter
    id: 'line-loss-negative',
    name: 'Negative line loss: metering or topology error (台区负损)',
    kind: 'line_loss',
    condition: 'negative',
    interval: '1h',
    limitPct: -1,
    intervals: 1,
    severity: 'medium',
  },
  {
    id: 'line-loss-incomplete',
    name: 'Transformer area energy data incomplete for a day (台区数据不完整)',
    kind: 'line_loss',
    condition: 'incomplete',
    interval: '1d',
    intervals: 1,
    severity: 'low',
  },
  {
    id: 'call',
    name: 'One-key call from site (一键呼叫)',
    kind: 'call',
    severity: 'critical',
    activeS: 300,
  },
] as const satisfies readonly ({ id: string; kind: string } & Record<string, unknown>)[];
