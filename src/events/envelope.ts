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
  return flat(
    `","event":${JSON.stringify(event.event)},"identity":${JSON.stringify(identity)}${group}` +
      `,"timestamp":${JSON.stringify(event.timestamp)},"data":${event.dataJson}}`,
  );
}

/**
 * The same text as one flat string. V8 keeps a concatenation as a tree of its
 * parts until something reads it by index; reading one character flattens it.
 * A tail lives in its session's buffer until pushed out, and as a tree it
 * would keep about 510 bytes in a dozen objects, where flat it keeps 185 in
 * one: less for every garbage collection to copy and mark.
 */
function flat(text: string): string {
  text.charCodeAt(0);
  return text;
}

export const frameOf = (id: number, tail: string): string => FRAME_HEAD + id + tail;
