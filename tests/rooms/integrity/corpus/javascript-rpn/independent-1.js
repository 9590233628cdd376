const lines = require("fs").readFileSync(0, "utf8").split("\n");

function apply(op, a, b) {
  switch (op) {
    case "+":
      return a + b;
    case "-":
      return a - b;
    case "*":
      return a * b;
    case "/":
      if (b === 0) throw new Error("division by zero");
      return a / b;
    default:
      throw new Error("bad token " + op);
  }
}

lines.forEach((line, index) => {
  const words = line.split(" ").filter(Boolean);
  if (!words.length) return;
  const values = [];
  try {
    for (const w of words) {
      if (/^-?\d+(\.\d+)?$/.test(w)) {
        values.push(parseFloat(w));
      } else if (w === "dup") {
        if (!values.length) throw new Error("nothing to duplicate");
        values.push(values[values.length - 1]);
      } else {
        if (values.length < 2) throw new Error("not enough operands for " + w);
        const b = values.pop();
        values.push(apply(w, values.pop(), b));
      }
    }
    if (values.length !== 1) throw new Error("expected one result, got " + values.length);
    const r = values[0];
    console.log(Number.isInteger(r) ? r.toString() : r.toFixed(4));
  } catch (e) {
    console.log(`line ${index + 1}: ${e.message}`);
  }
});
