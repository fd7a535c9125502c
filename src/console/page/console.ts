/**
 * The web console: a page on @vora/client that signs in, lists identities,
 * opens a session, shows its events and state, changes the subscription,
 * drops and resumes the connection, and publishes sample events.
 */
import { VoraClient, VoraError, VoraRequestError, VoraSession } from '../../../client/src/index';
import type { SessionState, VoraEvent, WebSocketConstructor, WelcomeMessage } from '../../../client/src/index';

interface CatalogueEvent {
  name: string;
  target: 'identity' | 'group';
  modes: string[];
  example: Record<string, unknown>;
}

const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const base = location.origin;

/** The browser's WebSocket, remembering the live one so that "Drop connection" can cut it. */
let liveSocket: WebSocket | undefined;
class DroppableWebSocket extends WebSocket {
  constructor(url: string) {
    super(url);
    liveSocket = this;
  }
}
const SocketImpl = DroppableWebSocket as unknown as WebSocketConstructor;

let catalogue: CatalogueEvent[] = [];
let accessToken: string | undefined;
let client: VoraClient | undefined;
let session: VoraSession | undefined;
let sessionSetup: { identity: string; connectionType: 'WEB' | 'DESKTOP' | 'MOBILE' } | undefined;
let welcomes = 0;
let eventCount = 0;

function log(text: string, kind: 'info' | 'ok' | 'warn' | 'error' = 'info'): void {
  const item = document.createElement('li');
  item.dataset.kind = kind;
  const time = document.createElement('time');
  time.textContent = new Date().toLocaleTimeString();
  item.append(time, text);
  $('activity-log').prepend(item);
}

function describe(error: unknown): string {
  if (error instanceof VoraRequestError) return `${error.status} ${error.body.error}: ${error.body.message}`;
  if (error instanceof VoraError) return `${error.name}: ${error.message}`;
  return String(error);
}

function showState(state: SessionState | 'signed-out' | 'signed-in'): void {
  const pill = $('state');
  pill.dataset.state = state;
  pill.textContent = state.replace('-', ' ');
}

async function loadCatalogue(): Promise<void> {
  const document = await (await fetch(`${base}/asyncapi.json`)).json();
  catalogue = Object.entries(document.components.messages as Record<string, any>)
    .filter(([key]) => key.startsWith('event.'))
    .map(([, message]) => ({
      name: message.name,
      target: message['x-target'],
      modes: message['x-modes'],
      example: message.examples?.[0]?.payload?.data ?? {},
    }));
  const select = $<HTMLSelectElement>('publish-event');
  select.replaceChildren(...catalogue.map((entry) => new Option(entry.name, entry.name)));
  select.value = 'CallDelivered';
  fillPublishForm();
}

async function loadSampleUsers(): Promise<void> {
  const response = await fetch(`${base}/dev-issuer/users`);
  if (response.status !== 200) return; // No development issuer: tokens are pasted.
  const { users } = (await response.json()) as { users: Array<{ sub: string; username: string; identities: string[]; scope: string }> };
  const select = $<HTMLSelectElement>('sample-user');
  select.replaceChildren(
    ...users.map((user) => {
      const option = new Option(`${user.username} (${user.identities.length ? user.identities.join(', ') : 'admin'})`, user.sub);
      option.dataset.scope = user.scope;
      return option;
    }),
  );
  select.addEventListener('change', () => ($<HTMLSelectElement>('sample-mode').value = select.selectedOptions[0]?.dataset.scope ?? 'vora:user'));
  select.dispatchEvent(new Event('change'));
  $('samples').hidden = false;
  $('platform-token').hidden = false;
}

async function mint(sub: string, scope: string): Promise<string> {
  const response = await fetch(`${base}/dev-issuer/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ sub, scope }),
  });
  const body = await response.json();
  if (response.status !== 200) throw new Error(body.message);
  return body.access_token as string;
}

async function signIn(token: string, who: string): Promise<void> {
  accessToken = token;
  client = new VoraClient({ baseUrl: base, accessToken: () => accessToken!, WebSocket: SocketImpl });
  $('who').textContent = who;
  showState('signed-in');
  const list = $('identity-list');
  try {
    const identities = await client.identities();
    log(`signed in as ${who}: ${identities.length} identities`, 'ok');
    list.replaceChildren(
      ...identities.map((identity) => {
        const item = document.createElement('li');
        const name = document.createElement('code');
        name.textContent = identity;
        const open = document.createElement('button');
        open.type = 'button';
        open.textContent = 'Open session';
        open.dataset.identity = identity;
        open.addEventListener('click', () => void openSession(identity));
        item.append(name, open);
        return item;
      }),
    );
  } catch (error) {
    list.replaceChildren();
    log(`GET /identity: ${describe(error)}`, 'error');
  }
}

async function openSession(identity: string): Promise<void> {
  if (!client) return;
  session?.close();
  const connectionType = $<HTMLSelectElement>('connection-type').value as 'WEB' | 'DESKTOP' | 'MOBILE';
  try {
    sessionSetup = { identity, connectionType };
    attach(await client.openSession({ identity, connectionType }));
    log(`POST /identity/setup for ${identity} (${connectionType})`);
  } catch (error) {
    log(`setup: ${describe(error)}`, 'error');
  }
}

function attach(next: VoraSession): void {
  session = next;
  welcomes = 0;
  $('fact-identity').textContent = sessionSetup?.identity ?? '–';
  next.on('state', (state) => {
    showState(state);
    log(`state: ${state}`, state === 'connected' ? 'ok' : state === 'closed' ? 'error' : 'warn');
    updateButtons();
  });
  next.on('welcome', (welcome) => onWelcome(welcome));
  next.on('event', (event) => onEvent(event));
  next.on('resync', (notice) =>
    log(notice.reason === 'new-session' ? 'the session expired: a new one was set up, ids restart at 1' : 'events were missed (recovered: false): resync', 'warn'),
  );
  next.on('error', (error) => log(describe(error), 'error'));
  showState(next.state);
  updateButtons();
}

function onWelcome(welcome: WelcomeMessage): void {
  welcomes++;
  $('fact-identity').textContent = welcome.identity;
  $('fact-mode').textContent = welcome.mode;
  $('fact-session').firstElementChild!.textContent = welcome.sessionId;
  $('fact-connections').textContent = String(welcomes);
  $('fact-last').textContent = session!.lastEventId;
  log(
    welcomes === 1
      ? `welcome: session ${welcome.sessionId.slice(0, 8)}…, lastEventId ${welcome.lastEventId}`
      : `resumed after event ${session!.lastEventId} (welcome #${welcomes}, recovered: ${welcome.recovered})`,
    'ok',
  );
  renderSubscription(welcome.mode, welcome.subscription);
  const target = $<HTMLInputElement>('publish-target');
  if (!target.value || target.dataset.auto) {
    target.value = welcome.identity;
    target.dataset.auto = '1';
    fillPublishForm();
  }
}

function onEvent(event: VoraEvent): void {
  eventCount++;
  $('event-count').textContent = String(eventCount);
  $('fact-last').textContent = event.id;
  const row = document.createElement('tr');
  row.dataset.id = event.id;
  row.dataset.event = event.event;
  row.className = 'fresh';
  const cells = [event.id, event.event, event.group ? `${event.identity} · ${event.group}` : event.identity, event.timestamp, JSON.stringify(event.data)];
  row.append(
    ...cells.map((text, index) => {
      const cell = document.createElement('td');
      if (index === 0) cell.className = 'id';
      cell.textContent = text;
      return cell;
    }),
  );
  const rows = $('event-rows');
  rows.querySelectorAll('tr.fresh').forEach((old) => old.classList.remove('fresh'));
  rows.prepend(row);
}

function renderSubscription(mode: string, subscription: { subscribeAll: boolean; events: string[] }): void {
  const allowed = catalogue.filter((entry) => entry.modes.includes(mode));
  $<HTMLInputElement>('subscribe-all').checked = subscription.subscribeAll;
  $('subscription-events').replaceChildren(
    ...allowed.map((entry) => {
      const label = document.createElement('label');
      label.className = 'check';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.value = entry.name;
      box.checked = subscription.events.includes(entry.name);
      label.append(box, entry.name);
      return label;
    }),
  );
  ($('subscription') as HTMLFieldSetElement).disabled = allowed.length === 0;
}

async function applySubscription(): Promise<void> {
  if (!session) return;
  const subscribeAll = $<HTMLInputElement>('subscribe-all').checked;
  const events = [...$('subscription-events').querySelectorAll<HTMLInputElement>('input:checked')].map((box) => box.value);
  try {
    const effective = await session.subscribe(subscribeAll ? { subscribeAll } : { subscribeAll, events });
    renderSubscription(session.welcome!.mode, effective);
    log(`subscription: ${effective.subscribeAll ? 'every event' : effective.events.join(', ') || 'none'}`, 'ok');
  } catch (error) {
    log(`eventSubscription: ${describe(error)}`, 'error');
  }
}

function updateButtons(): void {
  const state = session?.state;
  ($('drop') as HTMLButtonElement).disabled = state !== 'connected';
  ($('close') as HTMLButtonElement).disabled = !session || state === 'closed';
  ($('resume') as HTMLButtonElement).disabled = !session || state !== 'closed';
  ($('logout') as HTMLButtonElement).disabled = !session || state === 'closed';
}

function resume(): void {
  if (!session) return;
  const saved = { webSocketToken: session.webSocketToken, lastEventId: session.lastEventId };
  log(`resuming with the saved token after event ${saved.lastEventId}`);
  attach(
    VoraSession.resume({
      baseUrl: base,
      ...saved,
      WebSocket: SocketImpl,
      accessToken: accessToken ? () => accessToken! : undefined,
      connectionType: sessionSetup?.connectionType,
    }),
  );
}

function fillPublishForm(): void {
  const entry = catalogue.find((e) => e.name === $<HTMLSelectElement>('publish-event').value);
  if (!entry) return;
  const target = $<HTMLInputElement>('publish-target');
  $('publish-target-label').textContent = entry.target === 'group' ? 'Group' : 'Identity';
  if (entry.target === 'group') {
    target.value = 'sales';
  } else if (session?.welcome) {
    target.value = session.welcome.identity;
  }
  const example = { ...entry.example };
  if (typeof example.callId === 'string') example.callId = `c-${Date.now().toString(36)}`;
  $<HTMLTextAreaElement>('publish-data').value = JSON.stringify(example, null, 2);
}

async function publish(): Promise<void> {
  const result = $('publish-result');
  const entry = catalogue.find((e) => e.name === $<HTMLSelectElement>('publish-event').value)!;
  let data: unknown;
  try {
    data = JSON.parse($<HTMLTextAreaElement>('publish-data').value || '{}');
  } catch {
    result.textContent = 'data is not valid JSON';
    return;
  }
  const target = $<HTMLInputElement>('publish-target').value.trim();
  const body = { event: entry.name, [entry.target]: target, data };
  const response = await fetch(`${base}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${$<HTMLTextAreaElement>('platform-token-input').value.trim()}` },
    body: JSON.stringify(body),
  });
  const answer = await response.json();
  result.textContent = response.status === 202 ? `202: accepted ${answer.accepted}` : `${response.status}: ${answer.message}`;
  log(`POST /events ${entry.name}: ${result.textContent}`, response.status === 202 ? 'ok' : 'error');
  if (response.status === 202) fillPublishForm();
}

function wire(): void {
  $('sample-signin').addEventListener('click', async () => {
    const user = $<HTMLSelectElement>('sample-user').value;
    const scope = $<HTMLSelectElement>('sample-mode').value;
    try {
      await signIn(await mint(user, scope), `${user} (${scope})`);
    } catch (error) {
      log(`sign-in: ${describe(error)}`, 'error');
    }
  });
  $('token-signin').addEventListener('click', () => {
    const token = $<HTMLTextAreaElement>('token-input').value.trim();
    if (token) void signIn(token, 'a pasted token');
  });
  $('platform-token').addEventListener('click', async () => {
    try {
      $<HTMLTextAreaElement>('platform-token-input').value = await mint('telephony-core', 'vora:events:publish');
      $('platform-who').textContent = 'telephony-core (vora:events:publish)';
    } catch (error) {
      log(`platform token: ${describe(error)}`, 'error');
    }
  });
  $('drop').addEventListener('click', () => {
    log('dropping the connection');
    liveSocket?.close(3000, 'dropped from the console');
  });
  $('close').addEventListener('click', () => session?.close());
  $('resume').addEventListener('click', () => resume());
  $('logout').addEventListener('click', async () => {
    try {
      await session?.logout();
      log('logged out', 'ok');
    } catch (error) {
      log(`logout: ${describe(error)}`, 'error');
    }
  });
  $('apply-subscription').addEventListener('click', () => void applySubscription());
  $('publish-event').addEventListener('change', () => fillPublishForm());
  $('publish-target').addEventListener('input', () => delete $('publish-target').dataset.auto);
  $('publish-send').addEventListener('click', () => void publish());
}

wire();
void Promise.all([loadCatalogue(), loadSampleUsers()]).catch((error) => log(`loading: ${describe(error)}`, 'error'));
