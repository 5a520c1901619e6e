// Fakes of the browser's WebSocket and RTCPeerConnection: enough of each for
// the client's protocol logic, driven by the tests as the server would.

import type { Env } from "../src/env.js";

export class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  sent: any[] = [];
  closedByClient = false;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  private seq = 0;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.closedByClient = true;
    this.readyState = 3;
  }
  // Test side.
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  /** deliver sends a server message; numbered ones get the next seq unless given. */
  deliver(msg: any, numbered = msg.type !== "joined" && msg.type !== "resumed") {
    if (numbered && msg.seq === undefined) msg.seq = ++this.seq;
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  drop(code = 1006) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
  types(): string[] {
    return this.sent.map((m) => m.type);
  }
}

export class FakePC {
  static all: FakePC[] = [];
  iceConnectionState: RTCIceConnectionState = "new";
  connectionState: RTCPeerConnectionState = "new";
  remote = "";
  local = "";
  candidates: any[] = [];
  closed = false;
  onicecandidate: ((e: any) => void) | null = null;
  ontrack: ((e: any) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  oniceconnectionstatechange: (() => void) | null = null;
  constructor(readonly config: RTCConfiguration) {
    FakePC.all.push(this);
  }
  /** log: the descriptions and candidates applied, in order. */
  log: string[] = [];
  /** remoteDelayMs: how long applying an offer takes (a browser's is not instant). */
  remoteDelayMs = 0;
  async setRemoteDescription(d: { sdp: string }) {
    if (this.remoteDelayMs) await new Promise((r) => setTimeout(r, this.remoteDelayMs));
    this.remote = d.sdp;
    this.log.push("remote");
  }
  async createAnswer() {
    return { type: "answer", sdp: "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\n" };
  }
  async setLocalDescription(d: { sdp: string }) {
    this.local = d.sdp;
  }
  async addIceCandidate(c: any) {
    this.candidates.push(c);
    this.log.push("candidate");
  }
  getTransceivers() {
    return [];
  }
  getSenders() {
    return [];
  }
  async getStats() {
    return new Map();
  }
  close() {
    this.closed = true;
  }
  // Test side.
  up() {
    this.iceConnectionState = "connected";
    this.oniceconnectionstatechange?.();
    this.connectionState = "connected";
    this.onconnectionstatechange?.();
  }
  ice(s: RTCIceConnectionState) {
    this.iceConnectionState = s;
    this.oniceconnectionstatechange?.();
  }
}

export const offerSDP =
  "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=recvonly\r\na=rtpmap:111 opus/48000/2\r\na=rtcp-fb:111 nack\r\na=fmtp:111 minptime=10\r\n";

export function fakeEnv(fetches: string[] = [], answer: (url: string) => any = () => ({})): Env {
  FakeSocket.all = [];
  FakePC.all = [];
  return {
    WebSocket: FakeSocket as unknown as typeof WebSocket,
    RTCPeerConnection: FakePC as unknown as typeof RTCPeerConnection,
    fetch: (async (url: string) => {
      fetches.push(url);
      const body = answer(url);
      return { ok: !body.code, status: body.code ? 400 : 200, json: async () => body };
    }) as unknown as typeof fetch,
  };
}

/** token is an unsigned JWT-shaped token with sub. */
export function token(sub: string): string {
  const b = (o: object) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return b({ alg: "HS256" }) + "." + b({ sub, room: "r" }) + ".sig";
}

/** until waits for cond, polling (the client's timers are real). */
export async function until(cond: () => boolean, what: string, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out waiting for " + what);
    await new Promise((r) => setTimeout(r, 5));
  }
}
