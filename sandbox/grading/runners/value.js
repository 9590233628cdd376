// Value-test harness for JavaScript and TypeScript, run in the sandbox as the entry file, once
// per case. It reads the case from stdin ({"file", "function", "args"}) before any student code
// runs, requires submission/<file> (compiled to .js for TypeScript), calls the exported function
// (an async one is awaited) and writes one record on stdout, on a line of its own:
// "\x1evalue <tagged JSON>" or "\x1eraised <JSON string>". It decides nothing: the server
// compares the value with the expected one, which is not here. A second record makes the case
// count as tampered. The same text is valid TypeScript.
var fs = require("fs");
var DEPTH = 64;
var LIMIT = 2000;
var written = false;

function tag(value, depth) {
  if (depth > DEPTH) return { t: "other", v: "value nested too deeply" };
  if (value === null || value === undefined) return { t: "null" };
  var kind = typeof value;
  if (kind === "boolean") return { t: "bool", v: value === true };
  if (kind === "bigint") return { t: "int", v: BigInt.prototype.toString.call(value) };
  if (kind === "number") {
    if (Number.isInteger(value)) return { t: "int", v: BigInt(value).toString() };
    return { t: "float", v: String(value) };
  }
  if (kind === "string") return { t: "str", v: String(value) };
  if (Array.isArray(value)) {
    var items = [];
    for (var i = 0; i < value.length; i++) items.push(tag(value[i], depth + 1));
    return { t: "list", v: items };
  }
  if (value instanceof Map) {
    var pairs = [];
    value.forEach(function (v, k) {
      pairs.push([tag(k, depth + 1), tag(v, depth + 1)]);
    });
    return { t: "dict", v: pairs };
  }
  var proto = Object.getPrototypeOf(value);
  if (kind === "object" && (proto === Object.prototype || proto === null)) {
    return {
      t: "dict",
      v: Object.keys(value).map(function (k) {
        return [{ t: "str", v: k }, tag(value[k], depth + 1)];
      }),
    };
  }
  var name = proto && proto.constructor && proto.constructor.name;
  return { t: "other", v: String(name || kind) };
}

function emit(kind, data) {
  if (written) return;
  written = true;
  fs.writeSync(1, "\n\x1e" + kind + " " + JSON.stringify(data) + "\n");
}

function describe(error) {
  var text = error && error.stack ? String(error.stack) : String(error);
  return text.length <= LIMIT ? text : text.slice(0, LIMIT) + "…";
}

async function main() {
  var spec = JSON.parse(fs.readFileSync(0, "utf8"));
  process.chdir("submission");
  var record;
  try {
    var module = require("./submission/" + spec.file.replace(/\.ts$/, ".js"));
    var fn = module ? module[spec.function] : undefined;
    if (typeof fn !== "function") {
      emit("raised", spec.file + " exports no function " + spec.function);
      return;
    }
    var value = fn.apply(null, spec.args);
    if (value instanceof Promise) value = await value;
    record = tag(value, 0);
  } catch (error) {
    emit("raised", describe(error));
    return;
  }
  emit("value", record);
}

main().catch(function (error) {
  emit("raised", describe(error));
});
