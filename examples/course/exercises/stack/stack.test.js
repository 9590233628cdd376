const assert = require("assert");
const { Stack } = require("./stack");

test("starts empty", () => {
  const s = new Stack();
  assert.strictEqual(s.size, 0);
  assert.strictEqual(s.pop(), undefined);
});

test("pop returns the last pushed", () => {
  const s = new Stack();
  s.push(1);
  s.push(2);
  assert.strictEqual(s.pop(), 2);
  assert.strictEqual(s.pop(), 1);
});

test("peek does not remove", async () => {
  const s = new Stack();
  s.push("a");
  assert.strictEqual(s.peek(), "a");
  assert.strictEqual(s.size, 1);
});
