// What a Room knows of each peer in it.

import type { QualityLevel } from "./wire.js";

/** ConnectionQuality is the server's score of a peer's connection (docs/signalling.md). */
export interface ConnectionQuality {
  level: QualityLevel;
  /** score is 0-100 (a MOS from the E-model, scaled). */
  score: number;
}

/** Participant is a peer in the room, this client's own included. */
export interface Participant {
  /** id is the peer id (PA_…): it changes when a peer joins again. */
  readonly id: string;
  readonly identity: string;
  /** isLocal is true for this client's own peer. */
  readonly isLocal: boolean;
  publishing: boolean;
  muted: boolean;
  /** speaking: among the server's active speakers now. */
  speaking: boolean;
  /** audioLevel is 0-127 while speaking (127 minus the RFC 6464 -dBov), 0 otherwise. */
  audioLevel: number;
  /** quality is absent until the server has measured the peer. */
  quality?: ConnectionQuality;
}
