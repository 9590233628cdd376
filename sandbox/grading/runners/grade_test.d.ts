// Globals of the JavaScript/TypeScript unit-test runner (main.js), for TypeScript exercises.
declare var global: any;
declare function test(name: string, fn: () => unknown): void;
