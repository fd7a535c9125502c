import { ConnectionType } from './protocol.js';
import { EffectiveSubscription, Subscription, VoraSession } from './session.js';
import { AccessTokenSource, tokenFrom, Transport, TransportOptions } from './transport.js';

export interface VoraClientOptions extends TransportOptions {
  /** The OAuth access token, or a function that gives a fresh one (called before every REST call). */
  accessToken: AccessTokenSource;
}

export interface OpenSessionOptions {
  identity: string;
  connectionType: ConnectionType;
  /** Only with MOBILE: wake the app by push for incoming calls (SPEC section 7). */
  holdUpMode?: boolean;
  /** The events to receive; the gateway starts a new identity with every event its mode may have. */
  subscription?: Subscription;
}

/** The gateway's REST API for one signed-in caller, and the sessions it opens. */
export class VoraClient {
  private readonly transport: Transport;

  constructor(private readonly options: VoraClientOptions) {
    this.transport = new Transport(options);
  }

  /** GET /identity: the identities this caller may open sessions for. */
  async identities(): Promise<string[]> {
    const body = await this.transport.request<{ identities: string[] }>('GET', '/identity', await tokenFrom(this.options.accessToken, 'identities'));
    return body.identities;
  }

  /**
   * POST /identity/setup (and the subscription, when given), then the
   * session's socket: it resolves while the socket connects, so listeners
   * added right after it see the welcome and every event.
   */
  async openSession(options: OpenSessionOptions): Promise<VoraSession> {
    const token = await tokenFrom(this.options.accessToken, 'openSession');
    const { webSocketToken } = await this.transport.request<{ webSocketToken: string }>('POST', '/identity/setup', token, {
      connectionType: options.connectionType,
      identity: options.identity,
      ...(options.holdUpMode === undefined ? {} : { holdUpMode: options.holdUpMode }),
    });
    if (options.subscription) {
      await this.transport.request<EffectiveSubscription>(
        'POST',
        `/identity/${encodeURIComponent(options.identity)}/eventSubscription`,
        await tokenFrom(this.options.accessToken, 'openSession'),
        options.subscription,
      );
    }
    return VoraSession.open(
      { ...this.options, webSocketToken, lastEventId: '0' },
      { identity: options.identity, connectionType: options.connectionType, holdUpMode: options.holdUpMode },
    );
  }
}
