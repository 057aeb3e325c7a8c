/** The test SMS gateway is part of the product's simulators (the demo runs it too): simulators/sms-gateway.ts. */
export { TestSmsGateway, type SmsGatewayOptions, type SentSms } from '../../simulators/sms-gateway.ts';
