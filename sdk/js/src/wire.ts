// The signalling messages of /v1/rtc (docs/signalling.md; the Go types are in
// server/wire). Only what a client reads or writes is typed here.

/** A peer as the server describes it (PeerInfo). */
export interface PeerInfo {
  id: string;
  identity: string;
  publishing?: boolean;
  muted?: boolean;
  producer_id?: string;
}

/** A connection-quality level (docs/signalling.md, Connection quality). */
export type QualityLevel = "excellent" | "good" | "poor" | "lost";

/** An RTCIceServer as `joined.ice_servers` carries it. */
export interface ICEServer {
  urls: string[] | string;
  username?: string;
  credential?: string;
}

/** Every message the server may send. */
export type ServerMessage = { seq?: number; id?: string } & (
  | { type: "joined"; room: string; peer_id: string; peers: PeerInfo[] | null; resume_token?: string; ice_servers?: ICEServer[] }
  | { type: "resumed"; peer_id?: string; last_seq?: number }
  | { type: "offer"; sdp: string }
  | { type: "candidate"; candidate: RTCIceCandidateInit }
  | { type: "peer_joined"; peer: PeerInfo }
  | { type: "peer_left"; peer_id: string }
  | { type: "producer_added"; producer_id: string; peer_id: string }
  | { type: "producer_removed"; producer_id: string; peer_id: string }
  | { type: "peer_muted"; peer_id: string; muted: boolean }
  | { type: "active_speakers"; speakers: { peer_id: string; level: number }[] | null }
  | { type: "connection_quality"; peers: { peer_id: string; level: QualityLevel; score: number }[] | null }
  | { type: "move"; url: string; token: string; server?: string }
  | { type: "reconnect"; reason: string; delay_ms?: number }
  | { type: "error"; code: string; message: string; fatal?: boolean }
  | { type: "pong" }
);

/** Every message a client sends. */
export type ClientMessage = { seq?: number; id?: string } & (
  | { type: "join"; publish: boolean }
  | { type: "answer"; sdp: string }
  | { type: "candidate"; candidate: RTCIceCandidateInit }
  | { type: "mute"; muted: boolean }
  | { type: "restart_ice" }
  | { type: "resume"; token: string; last_seq: number }
  | { type: "leave" }
  | { type: "ping" }
);
