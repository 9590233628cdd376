// The seven languages a room can run. `id` is the sandbox language name sent in run.start;
// `ext` names the student's file (students/{user}/main.<ext>), so each language keeps its own file.
import { python } from "@codemirror/lang-python";
import { javascript } from "@codemirror/lang-javascript";
import { cpp } from "@codemirror/lang-cpp";
import { go } from "@codemirror/lang-go";
import { rust } from "@codemirror/lang-rust";

export const LANGUAGES = [
  { id: "python", label: "Python", ext: "py", support: () => python() },
  { id: "javascript", label: "JavaScript", ext: "js", support: () => javascript() },
  { id: "typescript", label: "TypeScript", ext: "ts", support: () => javascript({ typescript: true }) },
  { id: "c", label: "C", ext: "c", support: () => cpp() },
  { id: "cpp", label: "C++", ext: "cpp", support: () => cpp() },
  { id: "go", label: "Go", ext: "go", support: () => go() },
  { id: "rust", label: "Rust", ext: "rs", support: () => rust() },
];

const byId = new Map(LANGUAGES.map((lang) => [lang.id, lang]));
const byExt = new Map(LANGUAGES.map((lang) => [lang.ext, lang]));

export function languageById(id) {
  return byId.get(id) ?? LANGUAGES[0];
}

/** The language of a document name such as "students/3/main.rs"; Python when unknown. */
export function languageOfDoc(doc) {
  const dot = doc.lastIndexOf(".");
  return (dot >= 0 && byExt.get(doc.slice(dot + 1))) || LANGUAGES[0];
}

/** The same document path with another language's extension. */
export function docWithLanguage(doc, lang) {
  const slash = doc.lastIndexOf("/");
  const dot = doc.lastIndexOf(".");
  const stem = dot > slash ? doc.slice(0, dot) : doc;
  return `${stem}.${lang.ext}`;
}

/** The file an exercise is done in: its starter's file when it has a name of its own
 * (fizzbuzz.py), else one named after the exercise (shout.py), so that each exercise keeps
 * its own file and its starter never lands on top of other work. */
export function exerciseFile(exercise, lang = languageById(exercise.language)) {
  const names = Object.keys(exercise.starter ?? {});
  if (names.length && names[0] !== `main.${lang.ext}` && !names[0].includes("/")) return names[0];
  return `${exercise.id}.${lang.ext}`;
}
