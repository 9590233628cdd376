// The lesson state on a page: the announcement, the countdown and the freeze (LessonBanner),
// and in the room, what a student may write (the freeze, their pair role). The server
// enforces both; the page only stops the editor from taking keys it would refuse.
import { h, clear } from "./dom.js";

export class LessonBanner {
  constructor({ announcement, countdown, freeze }) {
    Object.assign(this, { announcementEl: announcement, countdownEl: countdown, freezeEl: freeze });
    this.timer = null;
  }

  snapshot(lesson) {
    this.announce(lesson?.announcement ?? null);
    this.countdown(lesson?.countdown ?? null);
    this.frozen(lesson?.freeze ?? null);
  }

  announce(message) {
    const text = message?.text ?? null;
    if (!this.announcementEl) return;
    this.announcementEl.hidden = !text;
    this.announcementEl.textContent = text ?? "";
  }

  countdown(countdown) {
    clearInterval(this.timer);
    const el = this.countdownEl;
    if (!el) return;
    if (!countdown) {
      el.hidden = true;
      return;
    }
    // Counted from our own clock: seconds_left was true when the server sent it.
    const ends = Date.now() + countdown.seconds_left * 1000;
    const tick = () => {
      const left = Math.max(0, Math.round((ends - Date.now()) / 1000));
      el.hidden = false;
      el.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
      el.dataset.left = String(left);
      if (left === 0) clearInterval(this.timer);
    };
    tick();
    this.timer = setInterval(tick, 250);
  }

  frozen(freeze) {
    const el = this.freezeEl;
    if (!el) return;
    el.hidden = !freeze;
    el.textContent = freeze ? `Editors are frozen${freeze.reason ? `: ${freeze.reason}` : ""}` : "";
  }
}

/** A student's editor follows the lesson: read-only while frozen, or as a pair's navigator. */
export class LessonRules {
  constructor({ me, editor }) {
    Object.assign(this, { me: String(me), editor });
    this.isFrozen = false;
    this.pair = null;
    this.roleEl = null;
  }

  apply() {
    const current = this.editor();
    if (!current) return;
    const onPair = this.pair && current.docName?.startsWith(`pairs/${this.pair.group}/`);
    const navigator = onPair && String(this.pair.driver) !== this.me;
    current.editor?.setReadOnly(this.isFrozen || navigator);
    document.body.dataset.pairRole = this.pair ? (String(this.pair.driver) === this.me ? "driver" : "navigator") : "";
    if (this.roleEl) {
      clear(this.roleEl, this.pair ? h("span", {}, String(this.pair.driver) === this.me ? "You drive: you write" : "You navigate: read and guide") : "");
      this.roleEl.hidden = !this.pair;
    }
  }

  snapshot(lesson) {
    this.isFrozen = Boolean(lesson?.freeze);
    this.pair = lesson?.pair ?? null;
    this.apply();
  }

  frozen(flag) {
    this.isFrozen = flag;
    this.apply();
  }

  paired(pair) {
    this.pair = pair;
    this.apply();
  }
}
