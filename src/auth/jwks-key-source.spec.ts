import { JwksKeySource } from './jwks-key-source';
import { KeysUnavailableError } from './key-source';

describe('JwksKeySource with requireHttps (production without AUTH_ALLOW_HTTP)', () => {
  const discovery = (jwksUri: string) =>
    new Response(JSON.stringify({ issuer: 'https://sso.vora.example', jwks_uri: jwksUri }), { status: 200 });
  let fetchSpy: jest.SpyInstance;
  let source: JwksKeySource | undefined;

  beforeEach(() => {
    fetchSpy = jest.spyOn(globalThis, 'fetch');
  });
  afterEach(() => {
    source?.onModuleDestroy();
    jest.restoreAllMocks();
  });

  it('does not fetch keys from an http:// jwks_uri that discovery names', async () => {
    fetchSpy.mockResolvedValueOnce(discovery('http://sso.vora.example/certs'));
    source = new JwksKeySource({ issuer: 'https://sso.vora.example', requireHttps: true });
    const refusal = source.keyFor({ alg: 'RS256' });
    await expect(refusal).rejects.toBeInstanceOf(KeysUnavailableError);
    await expect(refusal).rejects.toThrow(
      'issuer keys are unavailable: the issuer metadata names a jwks_uri that is not https:// ("http://sso.vora.example/certs"); ' +
        'set AUTH_ALLOW_HTTP=true to allow it',
    );
    expect(fetchSpy.mock.calls.map(([url]) => url)).toEqual(['https://sso.vora.example/.well-known/openid-configuration']);
  });

  it('fetches an http:// jwks_uri without requireHttps', async () => {
    fetchSpy.mockResolvedValueOnce(discovery('http://sso.vora.example/certs')).mockResolvedValueOnce(new Response('{"keys":[]}'));
    source = new JwksKeySource({ issuer: 'https://sso.vora.example' });
    await expect(source.keyFor({ alg: 'RS256' })).rejects.toThrow('the JWKS at http://sso.vora.example/certs holds no usable signing key');
    expect(fetchSpy.mock.calls.map(([url]) => url)).toEqual([
      'https://sso.vora.example/.well-known/openid-configuration',
      'http://sso.vora.example/certs',
    ]);
  });
});
