import { once } from 'node:events';
import { AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { writeTextFrame } from './text-frame';

/** A real `ws` server and client on loopback: what the client reads is what a browser would. */
describe('writeTextFrame', () => {
  let server: WebSocketServer;
  let serverSide: WebSocket;
  let client: WebSocket;
  let received: string[];

  beforeEach(async () => {
    server = new WebSocketServer({ port: 0, host: '127.0.0.1', perMessageDeflate: false });
    await once(server, 'listening');
    const accepted = once(server, 'connection');
    client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
    [serverSide] = (await accepted) as [WebSocket];
    await once(client, 'open');
    received = [];
    client.on('message', (data, isBinary) => received.push(isBinary ? '<binary>' : data.toString()));
  });

  afterEach(async () => {
    client.terminate();
    await new Promise((resolve) => server.close(resolve));
  });

  const until = async (count: number) => {
    while (received.length < count) await new Promise((resolve) => setTimeout(resolve, 5));
  };

  it('frames texts of every header size, and multi-byte UTF-8, as the client reads them', async () => {
    const texts = ['', 'a', 'x'.repeat(125), 'y'.repeat(126), 'z'.repeat(65_535), 'w'.repeat(65_536), '{"name":"Çağrı ☎ 😀"}'];
    for (const text of texts) writeTextFrame(serverSide, text);
    await until(texts.length);
    expect(received).toEqual(texts);
  });

  it('keeps its order with the frames ws writes itself', async () => {
    serverSide.send('one');
    writeTextFrame(serverSide, 'two');
    serverSide.ping();
    writeTextFrame(serverSide, 'three');
    serverSide.send('four');
    await until(4);
    expect(received).toEqual(['one', 'two', 'three', 'four']);
  });

  it('counts what the socket could not take yet in bufferedAmount, which the slow-client check reads', async () => {
    client.pause();
    const big = 'b'.repeat(1 << 20);
    for (let i = 0; i < 16; i++) writeTextFrame(serverSide, big);
    expect(serverSide.bufferedAmount).toBeGreaterThan(1 << 20);
    client.resume();
    await until(16);
    expect(serverSide.bufferedAmount).toBe(0);
  });
});
