// voicectl's page: a room built on @voicectl/client (sdk/js, bundled here as
// voicectl-client.js). The client does the protocol and its recoveries; the
// page shows the room, the microphone (its device and level) and each
// peer's connection quality.
import { createRoom } from "./voicectl-client.js";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);

const page = {
  token: params.get("token") || "",
  room: params.get("room") || "",
  name: params.get("name") || "",
  publish: params.get("publish") !== "0",
  dtx: params.get("dtx") !== "0",
  cluster: false, // served by `voicectl api`: join through it
  error: "",
  client: null, // the Room
};

// window.voicectl is what the end-to-end tests (and a curious user) read:
// the room's state, as the page before the client library showed it.
const fromRoom = (key, none) => () => (page.client ? page.client[key] : none);
window.voicectl = Object.defineProperties(
  {},
  {
    room: { get: () => page.client },
    error: { get: () => page.error },
    pc: { get: fromRoom("pc", null) },
    peerId: { get: fromRoom("peerId", "") },
    server: { get: fromRoom("server", "") },
    connected: { get: fromRoom("connected", false) },
    iceState: { get: fromRoom("iceState", "new") },
    path: { get: fromRoom("path", null) },
    connectMs: { get: fromRoom("connectMs", 0) },
    reconnecting: { get: fromRoom("reconnecting", false) },
    restarts: { get: fromRoom("restarts", 0) },
    resumes: { get: fromRoom("resumes", 0) },
    rejoins: { get: fromRoom("rejoins", 0) },
    rejoinReason: { get: fromRoom("rejoinReason", "") },
    duplicates: { get: fromRoom("duplicates", 0) },
    seqIn: { get: fromRoom("seqIn", 0) },
    seqOut: { get: fromRoom("seqOut", 0) },
    muted: { get: fromRoom("muted", false) },
    micLevel: { get: () => (page.client ? page.client.microphoneLevel() : 0) },
  },
);

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").className = isError ? "error" : "";
  if (isError) page.error = text;
}

const errorText = {
  no_capacity: "The server is full: there is no capacity for another peer right now. Try again later.",
  unauthorized: "This join link is not valid (the token was refused).",
  token_expired: "This join link has expired. Ask for a new one.",
};

const stateText = {
  connecting: "Connecting…",
  joined: "Joined; connecting media…",
  connected: "Connected.",
  reconnecting: "reconnecting…",
  moving: "moving…",
};

async function devToken(room, name, publish) {
  const q = new URLSearchParams({ room, identity: name, publish: publish ? "1" : "0" });
  const r = await fetch("/v1/dev/token?" + q);
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || "could not get a dev token");
  return body.token;
}

function renderPeers() {
  const room = page.client;
  const ul = $("peers");
  ul.textContent = "";
  if (!room) return;
  for (const p of room.participants.values()) {
    const li = document.createElement("li");
    li.dataset.peer = p.id;
    li.textContent = p.identity + (p.isLocal ? " (you)" : "");
    if (p.speaking) li.classList.add("speaking");
    if (p.muted) li.classList.add("muted");
    if (p.quality) {
      // connection_quality (docs/signalling.md): level and score 0-100.
      const q = document.createElement("span");
      q.className = "quality " + p.quality.level;
      q.textContent = p.quality.level === "lost" ? "lost" : p.quality.level + " " + p.quality.score;
      li.dataset.quality = p.quality.level;
      li.appendChild(q);
    }
    ul.appendChild(li);
  }
}

function showCall(room) {
  $("room-name").textContent = room.name;
  $("me").textContent = page.name || "(token identity)";
  $("join-form").hidden = true;
  $("call").hidden = false;
  $("mic-controls").hidden = !room.microphone;
}

// listDevices fills the microphone choice (labels come once a microphone
// was granted, so after the join opened one).
async function listDevices(room) {
  const sel = $("device");
  const devices = await room.listDevices();
  const current = room.microphone && room.microphone.getSettings().deviceId;
  sel.textContent = "";
  for (const d of devices) {
    const o = document.createElement("option");
    o.value = d.deviceId;
    o.textContent = d.label || "microphone " + (sel.length + 1);
    o.selected = d.deviceId === current;
    sel.appendChild(o);
  }
}

async function start() {
  let room;
  try {
    if (page.cluster) {
      room = createRoom({ room: page.room, identity: page.name, publish: page.publish, dtx: page.dtx, audio: $("audio") });
    } else {
      if (!page.token) page.token = await devToken(page.room, page.name, page.publish);
      room = createRoom({ url: location.origin, token: page.token, publish: page.publish, dtx: page.dtx, audio: $("audio") });
    }
  } catch (e) {
    setStatus(String(e.message || e), true);
    return;
  }
  page.client = room;
  const render = () => renderPeers();
  for (const ev of ["participantJoined", "participantLeft", "activeSpeakersChanged", "muteChanged", "connectionQualityChanged"]) {
    room.on(ev, render);
  }
  room.on("connectionStateChanged", (s) => {
    if (s === "joined" || s === "connected") showCall(room);
    if (stateText[s]) setStatus(stateText[s]);
    render();
  });
  room.on("microphoneFailed", (e) => setStatus("No microphone (" + e.name + "); joining as a listener.", true));
  room.on("error", (e) => setStatus(errorText[e.code] || `Error ${e.code}: ${e.message}`, true));
  room.on("disconnected", (r) => {
    render();
    if (r.code === "left") {
      $("call").hidden = true;
      setStatus("Left the room.");
    } else setStatus(errorText[r.code] || `Error ${r.code}: ${r.message}`, true);
  });
  setStatus(stateText.connecting);
  try {
    await room.start();
  } catch (e) {
    return; // said by disconnected
  }
  listDevices(room).catch(() => {});
}

$("mic").onclick = () => {
  const room = page.client;
  if (!room) return;
  room.setMicrophoneEnabled(room.muted).catch((e) => setStatus(String(e.message || e), true));
  $("mic").textContent = room.muted ? "Unmute" : "Mute";
};

$("device").onchange = () => {
  const room = page.client;
  room.setMicrophoneDevice($("device").value).catch((e) => setStatus("Could not switch microphone: " + (e.message || e), true));
};

$("leave").onclick = () => {
  if (page.client) page.client.disconnect();
};

// The microphone's level, so the user sees that the chosen device hears them.
setInterval(() => {
  if (page.client && !$("mic-controls").hidden) $("mic-level").value = Math.min(1, 3 * page.client.microphoneLevel());
}, 100);

$("join-form").onsubmit = (e) => {
  e.preventDefault();
  page.room = $("room").value.trim();
  page.name = $("name").value.trim();
  page.token = $("token").value.trim();
  page.publish = !$("listen-only").checked;
  page.cluster = page.cluster && !page.token;
  start();
};

(async function main() {
  let dev = false;
  try {
    const info = await (await fetch("/v1/info")).json();
    dev = info.dev;
    page.cluster = !!info.cluster && !page.token;
  } catch (e) {}
  $("token-label").hidden = dev;
  if (page.token || (dev && page.room && page.name)) {
    start();
  } else {
    $("room").value = page.room;
    $("name").value = page.name;
    $("listen-only").checked = !page.publish;
    $("join-form").hidden = false;
  }
})();
