import { ClusterEvents } from '../cluster/cluster-events';
import { Instances } from '../cluster/instances';
import { JsonDirectory } from '../identity/json-directory';
import { MemoryPresenceStore } from '../session/memory-presence.store';
import { MemorySessionStore } from '../session/memory-session.store';
import { Session } from '../session/session';
import { RoutingTable } from './routing-table';

const ALICE = '+905321110001';
const directory = new JsonDirectory([{ sub: 'alice', username: 'alice', identities: [ALICE], groups: [], manages: [] }]);

/** Instances whose liveness the test sets, and cluster events whose resync it triggers. */
class TestInstances extends Instances {
  readonly self = 'here';
  readonly live = new Set(['here', 'there']);
  count = () => this.live.size;
  isAlive = (id: string) => this.live.has(id);
  alive = () => [...this.live];
  heardFrom = (id: string) => void this.live.add(id);
  onRejoined = () => undefined;
}

describe('RoutingTable', () => {
  let sessions: MemorySessionStore;
  let presence: MemoryPresenceStore;
  let instances: TestInstances;
  let resync: () => void;
  let table: RoutingTable;
  let n = 0;

  const open = async (connectionType: Session['connectionType'] = 'WEB'): Promise<Session> => {
    const session: Session = {
      id: `s-${++n}`,
      sub: 'alice',
      mode: 'user',
      identity: ALICE,
      connectionType,
      holdUpMode: false,
      tokenHash: `h-${n}`,
      createdAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    };
    await sessions.open(session, { ttlS: 60, maxPerUser: 10 });
    return session;
  };
  const ids = async () => (await table.sessionsOf([ALICE]))[0].map((s) => s.id);

  beforeEach(() => {
    sessions = new MemorySessionStore();
    presence = new MemoryPresenceStore(sessions);
    instances = new TestInstances();
    const cluster = { onResync: (listener: () => void) => (resync = listener) } as unknown as ClusterEvents;
    table = new RoutingTable(sessions, presence, directory, instances, cluster);
  });
  afterEach(() => {
    table.onModuleDestroy();
    sessions.onModuleDestroy();
  });

  it('reads the store once for an identity, then answers from memory until an invalidation', async () => {
    const first = await open();
    const reads = jest.spyOn(sessions, 'listByIdentities');
    expect(await ids()).toEqual([first.id]);
    const second = await open('DESKTOP');
    expect(await ids()).toEqual([first.id]);
    expect(reads).toHaveBeenCalledTimes(1);
    table.opened('alice', ALICE);
    expect(await ids()).toEqual([first.id, second.id]);
    expect(reads).toHaveBeenCalledTimes(2);
  });

  it('does not keep a load that overlapped an invalidation, but answers the batch with it', async () => {
    const first = await open();
    const read = sessions.listByIdentities.bind(sessions);
    jest.spyOn(sessions, 'listByIdentities').mockImplementationOnce(async (identities) => {
      const answer = await read(identities);
      table.opened('alice', ALICE); // a setup announced while the store was being read
      return answer;
    });
    expect(await ids()).toEqual([first.id]);
    const second = await open('DESKTOP');
    expect(await ids()).toEqual([first.id, second.id]);
  });

  it('leaves out a session that ended, even when the store still answers with it', async () => {
    const session = await open();
    table.sessionEnded(session.id, 'alice', ALICE);
    expect(await ids()).toEqual([]);
  });

  it('knows where each socket is from presence, then from claims and releases; a dead instance holds nothing', async () => {
    const session = await open();
    await presence.connected(session.id, { instanceId: 'there', connectionId: 'c1' }, 60_000);
    await ids();
    expect(table.holderOf(session.id)).toBe('there');
    table.claimed(session.id, { instanceId: 'new', connectionId: 'c2' });
    expect(table.holderOf(session.id)).toBe('new');
    table.released(session.id, { instanceId: 'there', connectionId: 'c1' });
    expect(table.holderOf(session.id)).toBe('new');
    instances.live.delete('new');
    expect(table.holderOf(session.id)).toBeUndefined();
    instances.live.add('new');
    table.released(session.id, { instanceId: 'new', connectionId: 'c2' });
    expect(table.holderOf(session.id)).toBeUndefined();
  });

  it('forgets everything on a resync (events may have been missed), ended sessions excepted', async () => {
    const ended = await open();
    const kept = await open('DESKTOP');
    table.sessionEnded(ended.id, 'alice', ALICE);
    expect(await ids()).toEqual([kept.id]);
    const reads = jest.spyOn(sessions, 'listByIdentities');
    const third = await open('MOBILE');
    resync();
    expect(await ids()).toEqual([kept.id, third.id]);
    expect(reads).toHaveBeenCalledTimes(1);
  });
});
