// Sequence numbers of one signalling session (docs/signalling.md, Resuming):
// every message after joined carries seq, each side remembers the last it
// got, and the client keeps what it sent until a resume says it arrived.

import type { ClientMessage } from "./wire.js";

/**
 * maxUnacked bounds the messages kept for a replay: enough for minutes of
 * mutes and a renegotiation's candidates, bounded on a page left open.
 */
export const maxUnacked = 512;

/** Outbox numbers outgoing messages and drops repeated incoming ones. */
export class Outbox {
  /** seqIn is the last server seq taken. */
  seqIn = 0;
  /** seqOut is the last client seq given. */
  seqOut = 0;
  /** duplicates counts server messages dropped as already seen. */
  duplicates = 0;
  private unacked: { seq: number; msg: ClientMessage }[] = [];
  private numbered = false;

  /** start numbers every message from now on (the server's joined carried a resume token). */
  start(): void {
    this.numbered = true;
  }

  /** stamp gives msg its seq and keeps it for a replay; without a session it is sent as it is. */
  stamp(msg: ClientMessage): ClientMessage {
    if (!this.numbered) return msg;
    msg.seq = ++this.seqOut;
    this.unacked.push({ seq: msg.seq, msg });
    if (this.unacked.length > maxUnacked) this.unacked.shift();
    return msg;
  }

  /** accept says whether a server message is new (and takes its seq), false for a repeat. */
  accept(seq: number | undefined): boolean {
    if (!seq) return true;
    if (seq <= this.seqIn) {
      this.duplicates++;
      return false;
    }
    this.seqIn = seq;
    return true;
  }

  /**
   * replay returns what the server did not get after its last seq, in order,
   * or null when some of that is no longer kept (the session cannot go on).
   */
  replay(serverGot: number): ClientMessage[] | null {
    if (this.unacked.length && this.unacked[0].seq > serverGot + 1) return null;
    if (!this.unacked.length && this.seqOut > serverGot) return null;
    this.unacked = this.unacked.filter((u) => u.seq > serverGot);
    return this.unacked.map((u) => u.msg);
  }
}
