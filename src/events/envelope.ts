/**
 * The `event` message of SPEC section 4. Everything but the per-session id is
 * serialized once per event and recipient identity (the "tail"), so the hot
 * path only concatenates strings: frame = FRAME_HEAD + id + tail.
 */
export const FRAME_HEAD = '{"type":"event","id":"';

/** What the envelope needs of an event: its `data` serialized already, once, at ingress. */
export interface EnvelopeSource {
  readonly event: string;
  readonly group?: string;
  readonly timestamp: string;
  readonly dataJson: string;
}

/** The serialized envelope after the id, `","event":...}`, addressed to a recipient identity. */
export function frameTail(event: EnvelopeSource, identity: string): string {
  const group = event.group === undefined ? '' : `,"group":${JSON.stringify(event.group)}`;
  return (
    `","event":${JSON.stringify(event.event)},"identity":${JSON.stringify(identity)}${group}` +
    `,"timestamp":${JSON.stringify(event.timestamp)},"data":${event.dataJson}}`
  );
}

export const frameOf = (id: number, tail: string): string => FRAME_HEAD + id + tail;
