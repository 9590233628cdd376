"""The security component of a process: its limiter, password pool, sessions, sockets and
flood budgets."""

from __future__ import annotations

from sandbox.selection import runs_at_once
from server.auth import TokenSigner
from server.bus import Bus
from server.security.fair_runs import FairShare
from server.security.floods import Floods, RequestBudgets, WorkBudgets
from server.security.origins import parse_origins
from server.security.passwords import PasswordChecker
from server.security.ratelimit import Counters, Limit, MemoryCounters, RateLimiter, RedisCounters
from server.security.sessions import Sessions
from server.security.sockets import OpenSockets
from server.settings import Settings
from server.store import Store


class Security:
    def __init__(self, settings: Settings, store: Store, bus: Bus, signer: TokenSigner) -> None:
        counters: Counters
        if settings.redis_url:
            counters = RedisCounters(settings.redis_url, settings.redis_prefix + "sec:")
        else:
            counters = MemoryCounters()
        self.allowed_origins = parse_origins(settings.allowed_origins)
        self.limiter = RateLimiter(
            counters,
            {
                "login-address": Limit(settings.logins_per_address_per_minute, 60),
                "login-account": Limit(settings.logins_per_account_per_minute, 60),
                "credentials-user": Limit(settings.credential_changes_per_minute, 60),
                "join-address": Limit(settings.joins_per_address_per_minute, 60),
                "join-code": Limit(settings.joins_per_code_per_minute, 60),
                "runs-user": Limit(settings.runs_per_minute, 60),
                "comments-user": Limit(settings.comments_per_minute, 60),
                "hands-user": Limit(settings.hands_per_minute, 60),
                "demo-moves-user": Limit(settings.demo_moves_per_minute, 60),
            },
        )
        self.fair = FairShare(
            settings.max_runs_per_user,
            # Resized by the Runs component once it knows its backend. With Redis the workers
            # run the code and their concurrency is not known here: this estimate stands.
            (settings.run_concurrency or runs_at_once("local", 0)) + settings.run_queue_size,
            settings.grading_reserved_runs,
            limiter=self.limiter,
        )
        self.passwords = PasswordChecker(workers=settings.password_workers)
        self.sockets = OpenSockets(settings.max_events_sockets_per_user)
        self.floods = Floods(
            settings.max_doc_frames_per_second, settings.max_event_messages_per_second
        )
        self.requests = RequestBudgets(settings.max_requests_per_second)
        self.work = WorkBudgets(settings.max_doc_work_ms_per_second)
        self.sessions = Sessions(
            signer,
            settings.secret_key,
            store,
            bus=bus,
            counters=counters,
            sockets=self.sockets,
            cache_seconds=settings.session_cache_seconds,
            ticket_seconds=settings.socket_ticket_seconds,
        )

    async def start(self) -> None:
        await self.sessions.start()

    async def close(self) -> None:
        await self.fair.close()
        await self.sessions.close()
        await self.passwords.close()
        await self.limiter.close()
