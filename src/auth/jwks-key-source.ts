import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { JWSHeaderParameters, KeyLike } from 'jose';
import { IssuerKey, KeySource, KeysUnavailableError, UnknownKeyError, importKeySet, selectKey } from './key-source';

export interface JwksOptions {
  issuer: string;
  jwksUri?: string;
  /** A `jwks_uri` found through discovery must be https:// too (production without AUTH_ALLOW_HTTP). */
  requireHttps?: boolean;
  /** Larger discovery or JWKS answers are refused, and read no further than this. */
  maxAnswerBytes?: number;
  /** Refetch on an unknown kid at most this often. */
  cooldownMs?: number;
  /** Background refresh period, so rotated keys arrive before they are needed. */
  refreshMs?: number;
  fetchTimeoutMs?: number;
}

/** A JWKS holds a few keys of a few KiB each; anything near this is not a key set. */
const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * Keys of an external issuer, from its JWKS (found through OpenID discovery
 * unless AUTH_JWKS_URI is given). Keys are kept when a refetch fails, so an
 * outage of the issuer does not fail tokens signed by keys already known.
 * Redirects are never followed: they could hand the gateway someone else's
 * keys, so a 3xx fails the fetch like any other refusal.
 */
@Injectable()
export class JwksKeySource extends KeySource implements OnModuleDestroy {
  private readonly logger = new Logger('Jwks');
  private keys: IssuerKey[] = [];
  private loaded = false;
  /** When an unknown kid last caused a refetch; start-up and background loads do not count. */
  private lastUnknownKidFetchAt = Number.NEGATIVE_INFINITY;
  private inflight?: Promise<void>;
  private readonly timer: NodeJS.Timeout;
  private retryTimer?: NodeJS.Timeout;
  private retryDelayMs = 1_000;
  private destroyed = false;
  private readonly cooldownMs: number;
  private readonly fetchTimeoutMs: number;
  private readonly maxAnswerBytes: number;

  readonly issuer: string;

  constructor(private readonly options: JwksOptions) {
    super();
    this.issuer = options.issuer;
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 5_000;
    this.maxAnswerBytes = options.maxAnswerBytes ?? MAX_ANSWER_BYTES;
    this.timer = setInterval(() => void this.refresh().catch((error: Error) => this.refreshFailed(error)), options.refreshMs ?? 300_000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    this.destroyed = true;
    clearInterval(this.timer);
    clearTimeout(this.retryTimer);
  }

  isReady(): boolean {
    return this.loaded;
  }

  /**
   * Loads the keys at start-up. Never throws: until a load succeeds it retries
   * with backoff (up to the cooldown), so that readiness recovers soon after
   * the issuer does instead of waiting for the periodic refresh.
   */
  async warmUp(): Promise<void> {
    await this.refresh().catch((error: Error) => {
      this.logger.warn(`issuer keys not loaded yet: ${error.message}`);
      if (this.loaded || this.destroyed) return;
      this.retryTimer = setTimeout(() => void this.warmUp(), this.retryDelayMs);
      this.retryTimer.unref();
      this.retryDelayMs = Math.min(this.retryDelayMs * 2, this.cooldownMs);
    });
  }

  async keyFor(header: JWSHeaderParameters): Promise<KeyLike> {
    let found = selectKey(this.keys, header);
    if (!found && Date.now() - this.lastUnknownKidFetchAt >= this.cooldownMs) {
      // Rate-limited, so that tokens with made-up kids cannot make the gateway hammer the issuer.
      this.lastUnknownKidFetchAt = Date.now();
      await this.refresh().catch((error: Error) => {
        this.refreshFailed(error);
        if (!this.loaded) throw new KeysUnavailableError(`issuer keys are unavailable: ${error.message}`);
      });
      found = selectKey(this.keys, header);
    } else if (!found && this.inflight) {
      // A token of a just-rotated key arriving while another request refetches: wait for that fetch.
      await this.inflight.catch(() => undefined);
      found = selectKey(this.keys, header);
    }
    if (!found) {
      if (!this.loaded) throw new KeysUnavailableError('issuer keys are unavailable');
      throw new UnknownKeyError('the token is signed by a key the issuer does not publish');
    }
    return found.key;
  }

  /** Refetches are rate-limited (cooldown, refresh period), and so is this line. */
  private refreshFailed(error: Error): void {
    this.logger.warn(`issuer keys could not be refetched${this.loaded ? ' (the known keys stay in use)' : ''}: ${error.message}`);
  }

  private refresh(): Promise<void> {
    // Concurrent unknown-kid requests share one fetch.
    this.inflight ??= this.fetchKeys().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    const uri = this.options.jwksUri ?? (await this.discoverJwksUri());
    const jwks = (await this.getJson(uri)) as { keys?: unknown };
    const keys = await importKeySet(jwks);
    if (!keys.length) throw new Error(`the JWKS at ${uri} holds no usable signing key`);
    this.keys = keys;
    this.loaded = true;
  }

  private async discoverJwksUri(): Promise<string> {
    const base = this.options.issuer.replace(/\/$/, '');
    const metadata = (await this.getJson(`${base}/.well-known/openid-configuration`)) as { jwks_uri?: unknown };
    if (typeof metadata.jwks_uri !== 'string') throw new Error('the issuer metadata has no jwks_uri');
    if (this.options.requireHttps && !/^https:\/\//i.test(metadata.jwks_uri)) {
      throw new Error(`the issuer metadata names a jwks_uri that is not https:// ("${metadata.jwks_uri}"); set AUTH_ALLOW_HTTP=true to allow it`);
    }
    return metadata.jwks_uri;
  }

  private async getJson(uri: string): Promise<unknown> {
    const response = await fetch(uri, { redirect: 'manual', signal: AbortSignal.timeout(this.fetchTimeoutMs) }).catch(
      (error: unknown) => {
        throw new Error(`GET ${uri} failed: ${fetchFailure(error, this.fetchTimeoutMs)}`);
      },
    );
    if (!response.ok) {
      await response.body?.cancel();
      const redirect = response.status >= 300 && response.status < 400;
      throw new Error(`GET ${uri} answered ${response.status}${redirect ? ', a redirect, which is not followed' : ''}`);
    }
    const text = await readAtMost(response, this.maxAnswerBytes);
    if (text === undefined) throw new Error(`GET ${uri} answered more than ${this.maxAnswerBytes} bytes`);
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`GET ${uri} answered something that is not JSON`);
    }
  }
}

/**
 * The body as text, or undefined when it is longer than `maxBytes`: reading
 * stops there (the connection is dropped), so an endless answer costs no more.
 */
async function readAtMost(response: Response, maxBytes: number): Promise<string | undefined> {
  if (Number(response.headers.get('content-length')) > maxBytes) {
    await response.body?.cancel();
    return undefined;
  }
  const reader = response.body?.getReader();
  if (!reader) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(chunks).toString('utf8');
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
}

/**
 * Why a fetch failed, in the operator's terms: undici says only "fetch failed"
 * and keeps the reason (ECONNREFUSED, ENOTFOUND, a TLS error) in `cause`.
 */
function fetchFailure(error: unknown, timeoutMs: number): string {
  if ((error as Error)?.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = (error as { cause?: NodeJS.ErrnoException & { errors?: Error[] } })?.cause;
  if (!cause) return (error as Error)?.message ?? String(error);
  // Connecting to a name with several addresses fails with an AggregateError, one error per address.
  const messages = [...new Set((cause.errors ?? [cause]).map((each) => each.message).filter(Boolean))];
  return messages.length ? messages.join('; ') : (cause.code ?? cause.message);
}
