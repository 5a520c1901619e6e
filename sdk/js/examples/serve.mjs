// A development server for the examples: it serves them and the built
// library (dist/), and passes /v1/... (HTTP and WebSocket) to voicectl, so
// the examples and the voice server share one origin, as they do behind a
// reverse proxy in production. No dependencies: node's http and net.
//
//   node examples/serve.mjs [--port 8080] [--target http://127.0.0.1:7880]
//   node examples/serve.mjs --target http://127.0.0.1:7870 --api-key KEY
//
// --target is `voicectl serve --dev` (single node), or with --api-key the
// cluster API (`make cluster`): then GET /ticket?room=&identity=&publish= is
// what an app's backend does, POST /v1/rooms/{room}/join with the apps' key,
// which must never reach a browser; the page opens its WebSockets at the
// room's server.
import { createReadStream, existsSync, statSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { dirname, extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const arg = (name, def) => {
  const i = process.argv.indexOf("--" + name);
  return i > 0 ? process.argv[i + 1] : def;
};
const port = Number(arg("port", "8080"));
const target = new URL(arg("target", "http://127.0.0.1:7880"));
const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css" };

const apiKey = arg("api-key", "");

// ticket asks the cluster API for a join, as an app's backend does.
async function ticket(req, res) {
  const q = new URL(req.url, "http://x").searchParams;
  const r = await fetch(new URL("/v1/rooms/" + encodeURIComponent(q.get("room")) + "/join", target), {
    method: "POST",
    headers: { Authorization: "Bearer " + apiKey, "Content-Type": "application/json" },
    body: JSON.stringify({ identity: q.get("identity"), publish: q.get("publish") !== "0" }),
  });
  const body = await r.json();
  res.writeHead(r.status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(r.ok ? { url: body.signal_url, token: body.token, server: body.server } : body));
}

const server = http.createServer((req, res) => {
  if (apiKey && req.url.startsWith("/ticket?")) {
    ticket(req, res).catch((e) => res.writeHead(502).end(String(e)));
    return;
  }
  if (req.url.startsWith("/v1/")) {
    // Pass the request on as it is.
    const up = http.request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on("error", (e) => res.writeHead(502).end("voicectl at " + target + ": " + e.message));
    req.pipe(up);
    return;
  }
  const path = new URL(req.url, "http://x").pathname;
  const file = normalize(join(root, path === "/" ? "examples/call.html" : path.startsWith("/dist/") ? path : "examples" + path));
  if (!file.startsWith(root) || !existsSync(file) || !statSync(file).isFile()) {
    res.writeHead(404).end("not found");
    return;
  }
  res.writeHead(200, { "Content-Type": types[extname(file)] || "application/octet-stream", "Cache-Control": "no-cache" });
  createReadStream(file).pipe(res);
});

// WebSockets (/v1/rtc): the upgrade request goes to voicectl as it came, then
// bytes both ways.
server.on("upgrade", (req, socket, head) => {
  const up = net.connect(Number(target.port), target.hostname, () => {
    const headers = Object.entries(req.headers).map(([k, v]) => k + ": " + v).join("\r\n");
    up.write(req.method + " " + req.url + " HTTP/1.1\r\n" + headers + "\r\n\r\n");
    up.write(head);
    socket.pipe(up).pipe(socket);
  });
  up.on("error", () => socket.destroy());
  socket.on("error", () => up.destroy());
});

server.listen(port, "127.0.0.1", () => {
  console.log(`examples at http://127.0.0.1:${port}/call.html?room=demo&name=alice (voicectl at ${target})`);
});
