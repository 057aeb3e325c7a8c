/** Public surface of the edge agent: other folders import from here only. */
export { type Agent, type AgentStats } from './agent.ts';
export { createAgent, type AgentDeps } from './create-agent.ts';
export {
  AgentConfigSchema,
  DeviceConfigSchema,
  loadAgentConfig,
  FieldMappingSchema,
  MqttConfigSchema,
  RoomConfigSchema,
  RoomDeviceSchema,
  RtuTransportSchema,
  SpoolConfigSchema,
  TcpTransportSchema,
  TransportSchema,
  type AgentConfig,
  type AgentConfigInput,
  type DeviceConfig,
  type MqttConfig,
  type RoomConfig,
  type RoomDeviceConfig,
  type SpoolConfig,
  type TransportConfig,
} from './config.ts';
export {
  applyScale,
  decodeBlock,
  decodeRaw,
  READ_FUNCTION_CODES,
  REGISTER_TYPES,
  registerWidth,
  shortestFloat32,
  WORD_ORDERS,
  type DecodedBlock,
  type ReadFunctionCode,
  type RegisterSpec,
  type RegisterType,
  type WordOrder,
} from './decode.ts';
export { ConfigError, EdgeAgentError, ModbusError, type EdgeErrorCode } from './errors.ts';
export { createLogger, LOG_LEVELS, type LogFn, type Logger, type LoggerOptions } from './log.ts';
export {
  ModbusRtuConnection,
  PARITIES,
  type ModbusConnectionStats,
  type ModbusReader,
  type ModbusReadRequest,
  type ModbusRtuConnectionOptions,
  type ModbusTcpConnectionOptions,
  type Parity,
} from './modbus-client.ts';
export { ModbusTcpConnection } from './modbus-tcp.ts';
export { DEFAULT_MAX_GAP, MAX_BITS_PER_READ, MAX_REGISTERS_PER_READ, planReads, type PlannedRead, type PlanOptions } from './plan.ts';
export { DevicePoller, type DeviceState, type DeviceStats, type DeviceTransition } from './poller.ts';
export { loadProfileFiles } from './profiles/files.ts';
export {
  adw300Profile,
  BUILTIN_PROFILES,
  createProfileRegistry,
  DeviceProfileSchema,
  dtsu666Profile,
  em24Profile,
  sdm630Profile,
  loadProfile,
  type DeviceProfile,
  type DeviceProfileInput,
  type ProfileRegister,
  type ProfileRegistry,
} from './profiles/index.ts';
export {
  DiskSpool,
  FSYNC_POLICIES,
  MemorySpool,
  type DiskSpoolOptions,
  type FsyncPolicy,
  type MemorySpoolOptions,
  type Spool,
  type SpoolLoss,
  type SpoolStats,
  type UnsequencedReading,
} from './spool/index.ts';
export { ReadingsUplink, type UplinkOptions, type UplinkStats } from './uplink.ts';
export { atPath, mapPayload, type FieldMapping, type MappedPayload, type MapProblem, type PayloadMapping, type TimestampFormat } from './room-map.ts';
export { RoomMqttSource, type RoomDevice, type RoomDeviceStats, type RoomMqttOptions } from './room-mqtt.ts';
export * from './dlt645/index.ts';
