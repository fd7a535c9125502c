import { SignedWebhookConfig } from '../config/gateway-config';
import { PushRequest } from './holdup';
import { postSigned, WebhookAttempt } from './signed-webhook';

/** Wakes a mobile app. The webhook adapter hands the request to a push service (FCM, APNs VoIP, Web Push). */
export abstract class PushSender {
  /** Resolves when the push was accepted; rejects with WebhookFailed (or another Error) otherwise. */
  abstract send(request: PushRequest, deadline: number): Promise<WebhookAttempt>;
}

export class WebhookPushSender extends PushSender {
  constructor(private readonly config: SignedWebhookConfig) {
    super();
  }

  send(request: PushRequest, deadline: number): Promise<WebhookAttempt> {
    return postSigned(this.config.url, this.config.secret, request, deadline);
  }
}

/** PUSH_ADAPTER=none: nothing can wake the app, so a closed socket means ClientNotReady. */
export class NoPushSender extends PushSender {
  async send(): Promise<WebhookAttempt> {
    throw new Error('no push adapter is configured (set PUSH_WEBHOOK_URL)');
  }
}
