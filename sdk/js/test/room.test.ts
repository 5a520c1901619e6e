import assert from "node:assert/strict";
import { test } from "node:test";
import { createRoom } from "../src/index.js";
import type { Room } from "../src/room.js";
import { FakePC, FakeSocket, fakeEnv, offerSDP, token, until } from "./fakes.js";

// joinedRoom connects to a fake server and answers its join.
async function joinedRoom(peers: any[] = []): Promise<{ room: Room; ws: FakeSocket; pc: FakePC; events: string[] }> {
  const env = fakeEnv();
  const room = createRoom({ url: "http://127.0.0.1:7880", token: token("alice"), publish: false, env });
  const events: string[] = [];
  room.on("participantJoined", (p) => events.push("joined " + p.identity));
  room.on("participantLeft", (p) => events.push("left " + p.identity));
  room.on("muteChanged", (p) => events.push("mute " + p.identity + " " + p.muted));
  room.on("connectionQualityChanged", (p, q) => events.push("quality " + p.identity + " " + q.level + " " + q.score));
  room.on("activeSpeakersChanged", (s) => events.push("speakers " + s.map((p) => p.identity).join(",")));
  room.on("reconnecting", (r) => events.push("reconnecting " + r));
  room.on("reconnected", () => events.push("reconnected"));
  room.on("moved", (to) => events.push("moved " + to.server));
  room.on("disconnected", (r) => events.push("disconnected " + r.code));
  const started = room.start();
  await until(() => FakeSocket.all.length === 1, "a socket");
  const ws = FakeSocket.all[0];
  assert.equal(ws.url, "ws://127.0.0.1:7880/v1/rtc?token=" + encodeURIComponent(token("alice")));
  ws.open();
  assert.deepEqual(ws.sent, [{ type: "join", publish: false }]);
  ws.deliver({ type: "joined", room: "r", peer_id: "PA_a", peers, resume_token: "rt_1" });
  await started;
  const pc = FakePC.all[0];
  return { room, ws, pc, events };
}

test("participants and their events", async () => {
  const { room, ws, events } = await joinedRoom([{ id: "PA_b", identity: "bob", muted: false }]);
  assert.equal(room.localParticipant?.identity, "alice", "identity from the token");
  assert.deepEqual([...room.participants.keys()], ["PA_a", "PA_b"]);
  ws.deliver({ type: "peer_joined", peer: { id: "PA_c", identity: "carol" } });
  ws.deliver({ type: "peer_muted", peer_id: "PA_b", muted: true });
  ws.deliver({ type: "active_speakers", speakers: [{ peer_id: "PA_c", level: 90 }] });
  ws.deliver({ type: "connection_quality", peers: [{ peer_id: "PA_b", level: "good", score: 82 }] });
  ws.deliver({ type: "connection_quality", peers: [{ peer_id: "PA_b", level: "good", score: 82 }] }); // no change
  ws.deliver({ type: "peer_left", peer_id: "PA_c" });
  assert.deepEqual(events, ["joined bob", "joined carol", "mute bob true", "speakers carol", "quality bob good 82", "left carol"]);
  assert.equal(room.participants.get("PA_b")?.quality?.score, 82);
  room.disconnect();
  assert.deepEqual(ws.types().slice(-1), ["leave"]);
  assert.ok(ws.closedByClient);
});

test("offers are answered in order, with DTX and NACK, and candidates trickle", async () => {
  const { room, ws, pc } = await joinedRoom();
  ws.deliver({ type: "offer", sdp: offerSDP });
  ws.deliver({ type: "candidate", candidate: { candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdpMid: "0" } });
  await until(() => ws.types().includes("answer"), "an answer");
  const answer = ws.sent.find((m) => m.type === "answer");
  assert.equal(answer.seq, 1, "numbered: the joined carried a resume token");
  assert.match(answer.sdp, /usedtx=1/);
  assert.match(answer.sdp, /a=rtcp-fb:111 nack/);
  assert.match(pc.remote, /usedtx=1/, "the offer got DTX before it was applied");
  await until(() => pc.candidates.length === 1, "the candidate");
  pc.onicecandidate?.({ candidate: { toJSON: () => ({ candidate: "c", sdpMid: "0" }) } });
  assert.deepEqual(ws.sent.at(-1), { type: "candidate", candidate: { candidate: "c", sdpMid: "0" }, seq: 2 });
  room.disconnect();
});

test("a candidate is added after the offer that came before it (an ICE restart's)", async () => {
  const { room, ws, pc } = await joinedRoom();
  ws.deliver({ type: "offer", sdp: offerSDP });
  await until(() => ws.types().includes("answer"), "the first answer");
  pc.remoteDelayMs = 30;
  ws.deliver({ type: "offer", sdp: offerSDP.replace("a=mid:0", "a=ice-ufrag:new\r\na=mid:0") });
  ws.deliver({ type: "candidate", candidate: { candidate: "candidate:2 1 udp 1 127.0.0.1 5001 typ host ufrag new", sdpMid: "0" } });
  try {
    await until(() => pc.candidates.length === 1, "the candidate");
    await until(() => pc.log.length === 3, "both offers applied");
    assert.deepEqual(pc.log, ["remote", "remote", "candidate"]);
  } finally {
    room.disconnect();
  }
});

test("a dropped socket resumes: replays what the server missed, drops repeats", async () => {
  const { room, ws, pc, events } = await joinedRoom([{ id: "PA_b", identity: "bob" }]);
  pc.up();
  assert.equal(room.state, "connected");
  ws.deliver({ type: "peer_muted", peer_id: "PA_b", muted: true }); // seq 1
  ws.drop();
  assert.equal(room.state, "reconnecting");
  assert.ok(room.reconnecting);
  // The microphone state changes while the socket is down: kept for the replay.
  (room as any).publishing = true;
  await room.setMicrophoneEnabled(false);
  await until(() => FakeSocket.all.length === 2, "a resume socket");
  const ws2 = FakeSocket.all[1];
  assert.equal(ws2.url, "ws://127.0.0.1:7880/v1/rtc?resume=1");
  ws2.open();
  assert.deepEqual(ws2.sent, [{ type: "resume", token: "rt_1", last_seq: 1 }]);
  ws2.deliver({ type: "resumed", peer_id: "PA_a", last_seq: 0 });
  assert.deepEqual(ws2.sent.slice(1), [{ type: "mute", muted: true, seq: 1 }]);
  ws2.deliver({ type: "peer_muted", peer_id: "PA_b", muted: false, seq: 1 }); // a repeat
  ws2.deliver({ type: "peer_left", peer_id: "PA_b", seq: 2 });
  assert.equal(room.duplicates, 1);
  assert.equal(room.resumes, 1);
  assert.equal(room.rejoins, 0);
  assert.ok(!room.reconnecting);
  assert.equal(room.state, "connected");
  assert.deepEqual(events, ["joined bob", "mute bob true", "reconnecting signalling", "mute alice true", "reconnected", "left bob"]);
  room.disconnect();
});

test("a resume the server refuses ends in a full join", async () => {
  const { room, ws } = await joinedRoom();
  ws.drop();
  await until(() => FakeSocket.all.length === 2, "a resume socket");
  FakeSocket.all[1].open();
  FakeSocket.all[1].deliver({ type: "error", code: "resume_failed", message: "unknown session", fatal: true });
  await until(() => FakeSocket.all.length === 3, "a join socket");
  const ws3 = FakeSocket.all[2];
  assert.match(ws3.url, /\?token=/);
  ws3.open();
  assert.deepEqual(ws3.sent, [{ type: "join", publish: false }]);
  ws3.deliver({ type: "joined", room: "r", peer_id: "PA_a2", peers: [], resume_token: "rt_2" });
  assert.equal(room.rejoins, 1);
  assert.match(room.rejoinReason, /^resume_failed/);
  assert.equal(room.peerId, "PA_a2");
  room.disconnect();
});

test("ICE that stays disconnected asks for a restart", async () => {
  const { room, ws, pc, events } = await joinedRoom();
  pc.up();
  pc.ice("disconnected");
  assert.equal(room.state, "reconnecting");
  await until(() => ws.types().includes("restart_ice"), "restart_ice", 3000);
  assert.equal(room.restarts, 1);
  pc.ice("connected");
  assert.equal(room.state, "connected");
  assert.deepEqual(events, ["reconnecting media", "reconnected"]);
  room.disconnect();
});

test("a move joins the new home before leaving the old one", async () => {
  const { room, ws, pc, events } = await joinedRoom([{ id: "PA_b", identity: "bob" }]);
  pc.up();
  ws.deliver({ type: "move", url: "http://127.0.0.12:7880", token: token("alice"), server: "s2" });
  assert.equal(room.state, "moving");
  await until(() => FakeSocket.all.length === 2, "the new home's socket");
  const ws2 = FakeSocket.all[1];
  assert.match(ws2.url, /^ws:\/\/127\.0\.0\.12:7880\/v1\/rtc\?token=/);
  ws2.open();
  assert.ok(!ws.closedByClient, "the old home is kept while the new one joins");
  ws2.deliver({ type: "joined", room: "r", peer_id: "PA_a9", peers: [{ id: "PA_b9", identity: "bob" }], resume_token: "rt_9" });
  assert.equal(room.peerId, "PA_a9");
  assert.equal(room.server, "s2");
  ws.deliver({ type: "peer_left", peer_id: "PA_b" }); // stale news from the old home
  assert.ok(!ws.closedByClient, "kept until the new media is up");
  FakePC.all[1].up();
  assert.ok(ws.closedByClient);
  assert.equal(ws.types().at(-1), "leave");
  assert.ok(pc.closed);
  assert.equal(room.state, "connected");
  assert.deepEqual(events, ["joined bob", "moved s2", "left bob", "joined bob"]);
  room.disconnect();
});

test("a reconnect from the server joins again", async () => {
  const { room, ws } = await joinedRoom();
  ws.deliver({ type: "reconnect", reason: "worker_restarted", delay_ms: 10 });
  assert.ok(ws.closedByClient);
  assert.equal(room.state, "reconnecting");
  await until(() => FakeSocket.all.length === 2, "a join socket");
  assert.equal(room.rejoinReason, "reconnect worker_restarted");
  room.disconnect();
});

test("a fatal error ends the room with its code", async () => {
  const env = fakeEnv();
  const room = createRoom({ url: "http://127.0.0.1:7880", token: token("x"), publish: false, env });
  let reason = "";
  room.on("disconnected", (r) => (reason = r.code));
  const started = room.start();
  await until(() => FakeSocket.all.length === 1, "a socket");
  FakeSocket.all[0].open();
  FakeSocket.all[0].deliver({ type: "error", code: "no_capacity", message: "full", fatal: true });
  await assert.rejects(started, /full/);
  assert.equal(reason, "no_capacity");
  assert.equal(room.state, "disconnected");
});

test("a refused upgrade is asked about over HTTP", async () => {
  const fetches: string[] = [];
  const env = fakeEnv(fetches, () => ({ code: "token_expired", message: "expired" }));
  const room = createRoom({ url: "http://127.0.0.1:7880", token: token("x"), publish: false, env });
  const started = room.start();
  await until(() => FakeSocket.all.length === 1, "a socket");
  FakeSocket.all[0].drop(1006);
  await assert.rejects(started, /expired/);
  assert.deepEqual(fetches, ["http://127.0.0.1:7880/v1/rtc?token=" + encodeURIComponent(token("x"))]);
});

test("cluster mode asks the API again for every full join", async () => {
  const fetches: string[] = [];
  let n = 0;
  const env = fakeEnv(fetches, () => ({ signal_url: "http://127.0.0.1" + ++n + ":7880", token: token("al"), server: "s" + n }));
  const room = createRoom({ api: "http://127.0.0.1:7000", room: "r", identity: "al", publish: false, env });
  const started = room.start();
  await until(() => FakeSocket.all.length === 1, "a socket");
  assert.match(FakeSocket.all[0].url, /^ws:\/\/127\.0\.0\.11:7880/);
  FakeSocket.all[0].open();
  FakeSocket.all[0].deliver({ type: "joined", room: "r", peer_id: "PA_1", peers: [] });
  await started;
  assert.equal(room.server, "s1");
  FakeSocket.all[0].drop(1006); // no resume token: the server is gone
  await until(() => FakeSocket.all.length === 2, "a join on the new home", 3000);
  assert.match(FakeSocket.all[1].url, /^ws:\/\/127\.0\.0\.12:7880/);
  assert.equal(fetches.length, 2);
  assert.equal(fetches[0], "http://127.0.0.1:7000/v1/dev/join?room=r&identity=al&publish=0");
  room.disconnect();
});

test("after a call, a full server is tried again; an expired token is not", async () => {
  const fetches: string[] = [];
  let code = "no_capacity";
  const env = fakeEnv(fetches, () => ({ code, message: code }));
  const room = createRoom({ url: "http://127.0.0.1:7880", token: token("x"), publish: false, env });
  const started = room.start();
  await until(() => FakeSocket.all.length === 1, "a socket");
  FakeSocket.all[0].open();
  FakeSocket.all[0].deliver({ type: "joined", room: "r", peer_id: "PA_1", peers: [] });
  await started;
  FakeSocket.all[0].deliver({ type: "reconnect", reason: "worker_restarted", delay_ms: 0 });
  await until(() => FakeSocket.all.length === 2, "a rejoin");
  FakeSocket.all[1].drop(1006); // refused: the worker is still restarting
  await until(() => FakeSocket.all.length === 3, "another rejoin", 3000);
  assert.equal(room.state, "reconnecting");
  assert.match(room.rejoinReason, /no_capacity/);
  code = "token_expired";
  FakeSocket.all[2].drop(1006);
  await until(() => room.state === "disconnected", "the end");
  assert.equal(fetches.length, 2);
});

test("a kick ends the room; a refused request does not", async () => {
  const { room, ws, events } = await joinedRoom();
  const errors: string[] = [];
  room.on("error", (e) => errors.push(e.code));
  ws.deliver({ type: "error", code: "publish_not_allowed", message: "a listener", fatal: false });
  assert.deepEqual(errors, ["publish_not_allowed"]);
  assert.notEqual(room.state, "disconnected");
  ws.deliver({ type: "error", code: "kicked", message: "an administrator removed you", fatal: true });
  assert.equal(room.state, "disconnected");
  assert.deepEqual(events, ["disconnected kicked"]);
  await new Promise((r) => setTimeout(r, 600));
  assert.equal(FakeSocket.all.length, 1, "no rejoin after a kick");
});

test("a token function is asked again before a full join", async () => {
  const env = fakeEnv();
  let n = 0;
  const room = createRoom({ url: "http://127.0.0.1:7880", token: async () => token("t" + ++n), publish: false, env });
  const started = room.start();
  await until(() => FakeSocket.all.length === 1, "a socket");
  FakeSocket.all[0].open();
  FakeSocket.all[0].deliver({ type: "joined", room: "r", peer_id: "PA_1", peers: [] });
  await started;
  assert.equal(room.localParticipant?.identity, "t1");
  FakeSocket.all[0].deliver({ type: "reconnect", reason: "ice_failed", delay_ms: 0 });
  await until(() => FakeSocket.all.length === 2, "a rejoin");
  assert.equal(FakeSocket.all[1].url, "ws://127.0.0.1:7880/v1/rtc?token=" + encodeURIComponent(token("t2")));
  room.disconnect();
});
