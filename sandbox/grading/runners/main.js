// Unit-test runner for JavaScript and TypeScript exercises, run in the sandbox as the entry file.
//
// The test file calls the global `test(name, fn)` (fn may be async) and uses node's `assert`:
//     const assert = require("assert");
//     const { add } = require("./solution");
//     test("adds", () => { assert.strictEqual(add(1, 2), 3); });
// This runner reads and deletes grade-config.json (nonce, test file), loads the test file, runs
// the tests one after the other and prints one line per test:
//     @@grade:<nonce>@@ {"case": ..., "passed": ..., "message": ...}
// then {"done": true}. The same text is valid TypeScript (grade_test.d.ts declares the globals).
var fs = require("fs");
var config = JSON.parse(fs.readFileSync("grade-config.json", "utf8"));
fs.unlinkSync("grade-config.json");
var marker = "@@grade:" + config.nonce + "@@ ";
var LIMIT = 2000;
var tests = [];

function emit(record) {
  process.stdout.write("\n" + marker + JSON.stringify(record) + "\n");
}

function describe(error) {
  var text = error && error.stack ? String(error.stack) : String(error);
  return text.length <= LIMIT ? text : text.slice(0, LIMIT) + "…";
}

global.test = function (name, fn) {
  tests.push({ name: String(name), fn: fn });
};

async function main() {
  try {
    require("./" + config.file.replace(/\.ts$/, ".js"));
  } catch (error) {
    emit({ error: "loading the tests failed:\n" + describe(error) });
    process.exitCode = 1;
    return;
  }
  for (var i = 0; i < tests.length; i++) {
    try {
      await tests[i].fn();
      emit({ case: tests[i].name, passed: true, message: "" });
    } catch (error) {
      emit({ case: tests[i].name, passed: false, message: describe(error) });
    }
  }
  emit({ done: true });
}

main();
