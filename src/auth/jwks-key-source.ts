import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { JWSHeaderParameters, KeyLike } from 'jose';
import { IssuerKey, KeySource, KeysUnavailableError, UnknownKeyError, importKeySet, selectKey } from './key-source';

export interface JwksOptions {
  issuer: string;
  jwksUri?: string;
  /** Refetch on an unknown kid at most this often. */
  cooldownMs?: number;
  /** Background refresh period, so rotated keys arrive before they are needed. */
  refreshMs?: number;
  fetchTimeoutMs?: number;
}

/**
 * Keys of an external issuer, from its JWKS (found through OpenID discovery
 * unless AUTH_JWKS_URI is given). Keys are kept when a refetch fails, so an
 * outage of the issuer does not fail tokens signed by keys already known.
 */
@Injectable()
export class JwksKeySource extends KeySource implements OnModuleDestroy {
  private readonly logger = new Logger('Jwks');
  private keys: IssuerKey[] = [];
  private loaded = false;
  private lastFetchAt = 0;
  private inflight?: Promise<void>;
  private readonly timer: NodeJS.Timeout;
  private readonly cooldownMs: number;
  private readonly fetchTimeoutMs: number;

  readonly issuer: string;

  constructor(private readonly options: JwksOptions) {
    super();
    this.issuer = options.issuer;
    this.cooldownMs = options.cooldownMs ?? 30_000;
    this.fetchTimeoutMs = options.fetchTimeoutMs ?? 5_000;
    this.timer = setInterval(() => void this.refresh().catch(() => undefined), options.refreshMs ?? 300_000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  isReady(): boolean {
    return this.loaded;
  }

  /** Loads the keys; used at start-up and by readiness. Never throws. */
  async warmUp(): Promise<void> {
    await this.refresh().catch((error: Error) => this.logger.warn(`issuer keys not loaded yet: ${error.message}`));
  }

  async keyFor(header: JWSHeaderParameters): Promise<KeyLike> {
    let found = selectKey(this.keys, header);
    if (!found && Date.now() - this.lastFetchAt >= this.cooldownMs) {
      await this.refresh().catch((error: Error) => {
        if (!this.loaded) throw new KeysUnavailableError(`issuer keys are unavailable: ${error.message}`);
      });
      found = selectKey(this.keys, header);
    }
    if (!found) {
      if (!this.loaded) throw new KeysUnavailableError('issuer keys are unavailable');
      throw new UnknownKeyError('the token is signed by a key the issuer does not publish');
    }
    return found.key;
  }

  private refresh(): Promise<void> {
    // Concurrent unknown-kid requests share one fetch.
    this.inflight ??= this.fetchKeys().finally(() => (this.inflight = undefined));
    return this.inflight;
  }

  private async fetchKeys(): Promise<void> {
    this.lastFetchAt = Date.now();
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
    return metadata.jwks_uri;
  }

  private async getJson(uri: string): Promise<unknown> {
    const response = await fetch(uri, { signal: AbortSignal.timeout(this.fetchTimeoutMs) });
    if (!response.ok) throw new Error(`GET ${uri} answered ${response.status}`);
    return response.json();
  }
}
