export { VoraClient } from './client.js';
export type { OpenSessionOptions, VoraClientOptions } from './client.js';
export { VoraSession } from './session.js';
export type { EffectiveSubscription, KnownVoraEvent, ResumeOptions, ResyncNotice, SessionListeners, SessionState, Subscription, VoraEvent } from './session.js';
export { VoraCloseError, VoraError, VoraNetworkError, VoraProtocolError, VoraRequestError, VoraUsageError } from './errors.js';
export type { ResponseStatusVoraError } from './errors.js';
export type { AccessTokenSource, FetchLike, VoraLogger, WebSocketConstructor, WebSocketLike } from './transport.js';
export { CLOSE_RULES, EVENT_CATALOGUE } from './protocol.js';
export type * from './protocol.js';
