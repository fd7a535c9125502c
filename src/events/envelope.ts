/**
 * The `event` message of SPEC section 4. Everything but the per-session id is
 * serialized once per event and recipient identity (the "tail"), so the hot
 * path only concatenates strings: frame = FRAME_HEAD + id + tail.
 */
export const FRAME_HEAD = '{"type":"event","id":"';

export interface RoutedEvent {
  readonly event: string;
  readonly identity: string;
  readonly group?: string;
  readonly timestamp: string;
  readonly data: Readonly<Record<string, unknown>>;
}

/** The serialized envelope after the id: `","event":...}`. */
export function frameTail(event: RoutedEvent): string {
  const group = event.group === undefined ? '' : `,"group":${JSON.stringify(event.group)}`;
  return (
    `","event":${JSON.stringify(event.event)},"identity":${JSON.stringify(event.identity)}${group}` +
    `,"timestamp":${JSON.stringify(event.timestamp)},"data":${JSON.stringify(event.data)}}`
  );
}

export const frameOf = (id: number, tail: string): string => FRAME_HEAD + id + tail;
