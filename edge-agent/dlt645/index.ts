/** Public surface of the DL/T 645-2007 part of the edge agent: other folders import from here (or from edge-agent/index.ts). */
export { decodeBcd, encodeBcd, type BcdFormat, type BcdResult } from './bcd.ts';
export { Dlt645Bus, MAX_FOLLOW_UPS, type Dlt645BusOptions, type Dlt645BusStats } from './bus.ts';
export {
  DLT645_BAUD_RATES,
  Dlt645ConfigSchema,
  Dlt645DeviceSchema,
  dlt645BusKey,
  type Dlt645Config,
  type Dlt645DeviceConfig,
  type Dlt645TransportConfig,
} from './config.ts';
export { Dlt645Decoder, MAX_FRAME_BYTES, REJECT_REASONS, type DecodeEvent, type DecoderStats, type RejectReason } from './decoder.ts';
export { Dlt645Error, type Dlt645ErrorCode } from './errors.ts';
export {
  addressBytes,
  addressString,
  BROADCAST_ADDRESS,
  checksum,
  controlBits,
  decodeErrorByte,
  encodeFrame,
  ERROR_BITS,
  FUNCTION,
  identifierBytes,
  identifierString,
  isAddress,
  MAX_DATA_LENGTH,
  MAX_PREAMBLE,
  readAddressRequest,
  readNextRequest,
  readRequest,
  timeSyncRequest,
  WILDCARD_ADDRESS,
  type ControlBits,
  type Dlt645Frame,
  type MeterErrorName,
} from './frame.ts';
export { KNOWN_IDENTIFIERS, knownIdentifier, type KnownIdentifier } from './identifiers.ts';
export { DLT645_PARITIES, serialLink, tcpLink, type ByteLink, type LinkFactory, type SerialSettings } from './link.ts';
export { Dlt645Meters, defaultFrameGapMs } from './meters.ts';
export {
  BUILTIN_DLT645_PROFILES,
  createDlt645ProfileRegistry,
  decodeRead,
  Dlt645ProfileSchema,
  loadDlt645Profile,
  type Dlt645Profile,
  type Dlt645ProfileInput,
  type Dlt645ProfileRegistry,
  type Dlt645Read,
} from './profile.ts';
export { Dlt645Source } from './source.ts';
export { MAX_PROBE_ADDRESSES, parseAddressList, probeAddresses, PROBE_IDENTIFIER, readBusAddress, type AddressReadResult, type ProbeResult } from './discover.ts';
