// Builds @voicectl/client with esbuild: dist/index.js (the package's ES
// module) and the page's copy, ../../server/web/static/voicectl-client.js
// (minified, embedded in the Go binary and committed: `make sdk-check`
// fails when it is not what the sources build). With --tests it builds the
// unit tests into build/test instead.
import * as esbuild from "esbuild";
import { readdirSync } from "node:fs";

const common = { bundle: true, format: "esm", target: "es2020", logLevel: "warning", legalComments: "none" };

if (process.argv.includes("--tests")) {
  const tests = readdirSync("test").filter((f) => f.endsWith(".test.ts")).map((f) => "test/" + f);
  await esbuild.build({ ...common, entryPoints: tests, outdir: "build/test", platform: "node", outExtension: { ".js": ".mjs" } });
} else {
  await esbuild.build({ ...common, entryPoints: ["src/index.ts"], outfile: "dist/index.js", platform: "browser" });
  await esbuild.build({
    ...common,
    entryPoints: ["src/index.ts"],
    // VOICECTL_BUNDLE_OUT: elsewhere, for make sdk-check to compare with the
    // committed one without rewriting a file the Go build may be embedding.
    outfile: process.env.VOICECTL_BUNDLE_OUT || "../../server/web/static/voicectl-client.js",
    platform: "browser",
    minify: true,
    banner: { js: "// @voicectl/client, built from sdk/js by `npm run build` (do not edit)." },
  });
}
