/** Public surface of the simulators: other folders import from here only. */
export {
  createMeterModel,
  isModelQuantity,
  loadShape,
  meterLoadKw,
  METER_PROFILES,
  MODEL_QUANTITIES,
  type MeterModel,
  type MeterModelOptions,
  type MeterOverrides,
  type MeterProfile,
  type MeterValues,
  type ModelQuantity,
} from './meter-model.ts';
export { createAreaModel, type AreaModel, type AreaModelOptions } from './area-model.ts';
export {
  encodeValue,
  MODBUS_EXCEPTION,
  readRegisters,
  registerWidth,
  type ReadResult,
  type RegisterBlock,
  type RegisterFc,
  type RegisterMap,
  type RegisterType,
  type SimRegister,
  type WordOrder,
} from './register-map.ts';
export { dtsu666RegisterMap, readDtsu666, type Dtsu666ImportKwhAddress, type Dtsu666Options } from './dtsu666.ts';
export { sdm630RegisterMap } from './sdm630.ts';
export { em24RegisterMap } from './em24.ts';
export { adw300RegisterMap } from './adw300.ts';
export { isMeterType, METER_TYPES, registerMapOf, type MeterType } from './maps.ts';
export {
  startModbusSimulator,
  type ModbusSimulator,
  type ModbusSimulatorOptions,
  type ModbusSimulatorStats,
  type SimulatedGateway,
  type SimulatedUnit,
} from './modbus-server.ts';
export {
  applyElectricalFaults,
  ELECTRICAL_FAULTS,
  FAULT_KINDS,
  faultProblems,
  GARBAGE_MODES,
  isFaultKind,
  MAX_OVERLOAD_FACTOR,
  PHASES,
  rederive,
  type ActiveFault,
  type Fault,
  type FaultKind,
  type GarbageMode,
  type Phase,
} from './faults.ts';
export { MeterUnit, type UnitAnswer } from './meter-unit.ts';
export {
  startModbusRtuSimulator,
  type ModbusRtuSimulator,
  type ModbusRtuSimulatorOptions,
  type ModbusRtuSimulatorStats,
} from './modbus-rtu-server.ts';
export { exceptionPdu, handlePdu } from './modbus-pdu.ts';
export { crc16 } from './crc16.ts';
export {
  dueEvents,
  FaultSchema,
  isCallEvent,
  isMeterEvent,
  loadScenario,
  ScenarioSchema,
  type CallEvent,
  type MeterEvent,
  type Scenario,
  type ScenarioGateway,
  type ScenarioInput,
  type SensorEvent,
  type TimelineEvent,
} from './scenario.ts';
export { startScenario, startTimeline, type ScenarioRun, type TimelineOptions, type TimelineRun } from './scenario-runner.ts';
export { pressCallButton, type CallButtonOptions } from './call-button.ts';
export { startControlServer, type ControlServer } from './control.ts';
export {
  agentMappingFor,
  SENSOR_KINDS,
  SensorConfigSchema,
  sensorPayload,
  startRoomSensors,
  type RoomSensors,
  type RoomSensorsOptions,
  type SensorConfig,
  type SensorConfigInput,
  type SensorKind,
} from './room-sensors.ts';
export { parseFeed, replayFeed, type FeedFormat, type FeedRecord, type ParsedFeed, type ReplayOptions, type ReplayResult } from './replay.ts';
export { SimulatorError, type SimulatorErrorCode } from './errors.ts';
export {
  startDlt645Simulator,
  type Dlt645SimMeter,
  type Dlt645SimTransport,
  type Dlt645Simulator,
  type Dlt645SimulatorOptions,
  type Dlt645SimulatorStats,
} from './dlt645-server.ts';
export { bcdBytes, DLT645_SIM_IDENTIFIERS, type SimIdentifier } from './dlt645-map.ts';
