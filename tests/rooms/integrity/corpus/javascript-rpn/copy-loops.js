// calculator
const readline = require("readline");

const OPERATORS = {
  "+": (a, b) => a + b,
  "-": (a, b) => a - b,
  "*": (a, b) => a * b,
  "/": (a, b) => {
    if (b === 0) {
      throw new Error("division by zero");
    }
    return a / b;
  },
};

function tokenize(line) {
  return line.trim().split(/\s+/).filter((t) => t.length > 0);
}

function evaluate(items) {
  const stack = [];
  let i = 0;
  while (i < items.length) {
    const item = items[i];
    i++;
    if (item in OPERATORS) {
      if (stack.length < 2) {
        throw new Error("not enough operands for " + item);
      }
      const right = stack.pop();
      const left = stack.pop();
      stack.push(OPERATORS[item](left, right));
    } else if (item === "dup") {
      if (stack.length < 1) {
        throw new Error("nothing to duplicate");
      }
      stack.push(stack[stack.length - 1]);
    } else {
      const value = Number(item);
      if (Number.isNaN(value)) {
        throw new Error("bad token " + item);
      }
      stack.push(value);
    }
  }
  if (stack.length !== 1) {
    throw new Error("expected one result, got " + stack.length);
  }
  return stack[0];
}

function format(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(4);
}

function main() {
  const rl = readline.createInterface({ input: process.stdin });
  let lineNumber = 0;
  rl.on("line", (line) => {
    lineNumber += 1;
    const tokens = tokenize(line);
    if (tokens.length === 0) {
      return;
    }
    try {
      console.log(format(evaluate(tokens)));
    } catch (err) {
      console.log("line " + lineNumber + ": " + err.message);
    }
  });
}

main();
