"""One frozen settings object, filled from ``CLASSROOM_*`` environment variables.

Only this module reads the environment. Everything else receives a :class:`Settings`
(or the parts of it it needs) explicitly.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

from server.exceptions import ConfigurationError

SandboxKind = Literal["auto", "docker", "local"]


@dataclass(frozen=True)
class Settings:
    """Every knob of a server process. Build it with :meth:`from_env`."""

    env: str = "development"
    data_dir: Path = Path(".")
    database_url: str = ""
    redis_url: str | None = None
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    log_level: str = "info"
    token_ttl_seconds: int = 12 * 3600
    # documents
    max_frame_bytes: int = 1 << 20
    max_connections_per_room: int = 500
    max_connections_per_user: int = 20
    compact_after_updates: int = 500
    persist_batch_ms: int = 0  # 0: a group commit starts as soon as the last one ends
    room_unload_grace_seconds: float = 30.0
    # every this many seconds, a document socket sent nothing since the last time gets an
    # empty awareness frame (0: never); stock providers reconnect after 30 s of silence
    # (server/documents/keepalive.py)
    doc_keepalive_seconds: float = 10.0
    # a renewal of a presence ("still here", every 15 s) waits this long to go out with the
    # document's others in one frame (rooms/sync.py rule 8); 0 passes each on at once
    awareness_renewal_hold_seconds: float = 5.0
    # academic integrity (server/integrity): typing history kept after compaction, in days
    # (0 keeps none); one update inserting at least this many characters is a paste signal
    history_retention_days: float = 120.0
    # at most this many updates of history per document; older ones are folded (0: no bound)
    history_max_updates_per_doc: int = 50_000
    paste_threshold_chars: int = 200
    # sandbox
    sandbox: SandboxKind = "auto"
    docker_url: str | None = None
    run_concurrency: int = 0  # 0: automatic (sandbox.selection.runs_at_once)
    run_queue_size: int = 100
    pool_size: int = 1  # warm containers per language at least (sandbox/pool.py)
    # while classes are on, the warm pool follows their online students (server/runs/demand.py)
    # within these bounds: containers in all, and the sum of their memory limits in MiB (0: none);
    # pool_parallel is how many containers are created at once to refill it
    pool_max_containers: int = 48
    pool_memory_mb: int = 12288
    pool_parallel: int = 4
    max_time_seconds: float = 20.0
    max_memory_mb: int = 512
    max_output_bytes: int = 64 * 1024
    image_prefix: str = "opencode-classroom"
    # a sandbox worker serves Prometheus metrics on this port (on CLASSROOM_HOST); 0: off
    worker_metrics_port: int = 0
    # on SIGTERM: how long a server process waits for its sockets and tasks, and a worker
    # for its runs, before closing them anyway (cancelled runs are reported as such)
    shutdown_grace_seconds: float = 20.0
    # grading
    submissions_per_minute: int = 6
    # a student's attempts at one exercise (each keeps its files, up to 1 MiB; 0: no limit)
    max_submissions_per_exercise: int = 200
    # every Redis key, channel and stream starts with this: deployments sharing a Redis each
    # need their own (leaderboards are under PREFIX + "lb:", the run stream is PREFIX + "runs")
    redis_prefix: str = "classroom:"
    # a TOML file of extra achievements, added to the built-in ones (rooms/achievement_files.py)
    achievements_file: str | None = None
    # security (server/security/): origins, rate limits, caps, quotas
    allowed_origins: str = ""  # comma-separated; empty: the server's own origin
    allow_unconfined: bool = False  # let the local sandbox run code without bubblewrap
    logins_per_address_per_minute: int = 30
    logins_per_account_per_minute: int = 10
    # password changes (PUT /api/me/credentials) a user may make a minute (argon2: 64 MiB each)
    credential_changes_per_minute: int = 5
    joins_per_address_per_minute: int = 60
    joins_per_code_per_minute: int = 300
    password_workers: int = 2
    max_events_sockets_per_user: int = 5
    # what one socket may send a second (five seconds' worth at once; 0: no limit); past it
    # the socket is closed with 1008 (server/security/floods.py)
    max_doc_frames_per_second: int = 1000
    max_event_messages_per_second: int = 100
    # milliseconds of the event loop one user's document frames may take a second on a
    # process, five seconds' worth at once (0: no limit); past it their socket is closed with
    # 1008, as for a flood (server/security/floods.py WorkBudgets)
    max_doc_work_ms_per_second: int = 100
    # API requests one user may make a second on a process, ten seconds' worth at once (0: no
    # limit); past it 429 rate_limited (server/security/floods.py RequestBudgets)
    max_requests_per_second: int = 50
    staff_reserved_connections: int = 20
    socket_ticket_seconds: int = 30
    session_cache_seconds: float = 5.0
    max_runs_per_user: int = 3
    # Runs a user may start a minute (every process counts, with Redis; 0: no limit), and how
    # many of a user's finished runs a room keeps (0: all) (server/security/fair_runs.py 4, 5)
    runs_per_minute: int = 120
    runs_kept_per_user: int = 200
    # A student's inline comments: a minute (every process counts, with Redis), and on one
    # file (0: no limit) (server/cockpit/feedback.py)
    comments_per_minute: int = 30
    max_comments_per_doc: int = 200
    # Hands a user may raise a minute (every process counts, with Redis; 0: no limit)
    hands_per_minute: int = 20
    # demo.detach, demo.follow and quiz.answer a student may send a minute (the same)
    demo_moves_per_minute: int = 60
    grading_reserved_runs: int = 10
    max_docs_per_user: int = 50
    max_docs_per_room: int = 5000
    max_doc_bytes: int = 1 << 20
    # LTI 1.3 and links handed out (QR codes): the address people reach us at, e.g.
    # https://classroom.school.org (unset: taken from each request)
    public_url: str | None = None
    # emails of instructors who may register LMS platforms over the API (comma-separated);
    # unset: only the command line (`python -m server lti-register`)
    lti_registrars: str | None = None

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``CLASSROOM_<FIELD>`` for every field; unset ones keep their default.

        Raises :class:`ConfigurationError` with the variable's name for a value that does
        not parse, and in production for a missing secret key.
        """
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            name = "CLASSROOM_" + f.name.upper()
            raw = environ.get(name)
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(name, raw, f.type)
        settings = cls(**values)  # type: ignore[arg-type]
        return settings._resolved()

    def _resolved(self) -> Settings:
        data_dir = self.data_dir
        database_url = self.database_url or f"sqlite:///{(data_dir / 'classroom.db').as_posix()}"
        secret_key = self.secret_key
        if not secret_key:
            if self.is_production:
                raise ConfigurationError(
                    "CLASSROOM_SECRET_KEY must be set when CLASSROOM_ENV=production"
                )
            secret_key = _stored_secret(data_dir)
        if self.run_concurrency < 0:
            raise ConfigurationError("CLASSROOM_RUN_CONCURRENCY must be 0 (automatic) or more")
        if not 0 <= self.doc_keepalive_seconds <= 14:
            raise ConfigurationError(
                "CLASSROOM_DOC_KEEPALIVE_SECONDS must be 0 (off) to 14: two of them must stay "
                "under the 30 s after which a stock y-websocket provider reconnects"
            )
        if not 0 <= self.awareness_renewal_hold_seconds <= 10:
            raise ConfigurationError(
                "CLASSROOM_AWARENESS_RENEWAL_HOLD_SECONDS must be 0 to 10: a renewal comes every "
                "15-18 s and must reach the others before their 30 s timeout"
            )
        if self.sandbox not in ("auto", "docker", "local"):
            raise ConfigurationError(
                f"CLASSROOM_SANDBOX must be docker, local or auto, not {self.sandbox!r}"
            )
        return _replace(self, database_url=database_url, secret_key=secret_key)


def _replace(settings: Settings, **changes: object) -> Settings:
    from dataclasses import replace

    return replace(settings, **changes)  # type: ignore[arg-type]


def _stored_secret(data_dir: Path) -> str:
    """The secret key kept in ``data_dir/secret_key``, generated on first use."""
    path = data_dir / "secret_key"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    # O_EXCL: when two processes start at once, exactly one writes, both read its key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key + "\n")
    return key


def _parse(name: str, raw: str, annotation: object) -> object:
    kind = str(annotation)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
        if kind == "bool":
            return raw.lower() in ("1", "true", "yes", "on")
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a valid {kind}") from None
    if raw.lower() in ("none", "off") and "None" in kind:
        return None
    return raw
