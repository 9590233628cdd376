from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rooms.achievement_files import builtin, loads, parse_timeframe
from rooms.achievements import (
    EVENTS,
    Achievement,
    AchievementCondition,
    Activity,
    Catalog,
    ConditionType,
    Operator,
    Rarity,
    Stats,
    submission_events,
)
from rooms.exceptions import AchievementError

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def ach(
    aid: str, *conditions: AchievementCondition, deps: tuple[str, ...] = (), xp: int = 0
) -> Achievement:
    return Achievement(aid, aid.title(), "", "test", Rarity.COMMON, "*", xp, conditions, deps)


def event(name: str) -> AchievementCondition:
    return AchievementCondition(ConditionType.EVENT, event=name)


def milestone(metric: str, value: float) -> AchievementCondition:
    return AchievementCondition(ConditionType.MILESTONE, metric=metric, value=value)


def ids(achievements: list[Achievement]) -> list[str]:
    return [a.id for a in achievements]


def test_event_condition_matches_the_triggering_submission_only() -> None:
    catalog = Catalog([ach("first", event("first_pass"))])
    assert ids(catalog.evaluate(Stats(NOW, events={"first_pass"}), set())) == ["first"]
    assert catalog.evaluate(Stats(NOW, events={"pass"}), set()) == []


def test_already_unlocked_is_not_returned_again() -> None:
    catalog = Catalog([ach("first", event("submission"))])
    assert catalog.evaluate(Stats(NOW, events={"submission"}), {"first"}) == []


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [("gte", 5, True), ("gt", 5, False), ("eq", 5, True), ("lte", 4, False), ("lt", 6, True)],
)
def test_metric_operators(operator: str, value: float, expected: bool) -> None:
    cond = AchievementCondition(ConditionType.METRIC, "passes", Operator(operator), value)
    catalog = Catalog([ach("m", cond)])
    unlocked = catalog.evaluate(Stats(NOW, metrics={"passes": 5}), set())
    assert bool(unlocked) is expected


def test_timeframe_counts_only_recent_activity() -> None:
    cond = AchievementCondition(
        ConditionType.METRIC, "passes", Operator.GTE, 3, None, timedelta(days=7)
    )
    catalog = Catalog([ach("busy", cond)])
    history = [Activity("passes", NOW - timedelta(days=d)) for d in (1, 3, 8, 30)]
    assert catalog.evaluate(Stats(NOW, history=history), set()) == []
    history.append(Activity("passes", NOW - timedelta(hours=1)))
    history.append(Activity("runs", NOW))  # another name does not count
    assert ids(catalog.evaluate(Stats(NOW, history=history), set())) == ["busy"]


def test_event_with_timeframe_counts_events_in_the_span() -> None:
    cond = AchievementCondition(
        ConditionType.EVENT, None, Operator.GTE, 2, "fastest_solver", timedelta(days=30)
    )
    catalog = Catalog([ach("speedy", cond)])
    one = [Activity("fastest_solver", NOW - timedelta(days=2))]
    assert catalog.evaluate(Stats(NOW, history=one), set()) == []
    two = [*one, Activity("fastest_solver", NOW - timedelta(days=29))]
    assert ids(catalog.evaluate(Stats(NOW, history=two), set())) == ["speedy"]


def test_streak_condition() -> None:
    catalog = Catalog([ach("s5", AchievementCondition(ConditionType.STREAK, value=5))])
    assert catalog.evaluate(Stats(NOW, streak=4), set()) == []
    assert ids(catalog.evaluate(Stats(NOW, streak=5), set())) == ["s5"]


def test_all_conditions_must_hold() -> None:
    catalog = Catalog([ach("both", event("pass"), milestone("passes", 2))])
    assert catalog.evaluate(Stats(NOW, {"passes": 1}, events={"pass"}), set()) == []
    assert catalog.evaluate(Stats(NOW, {"passes": 2}), set()) == []
    assert ids(catalog.evaluate(Stats(NOW, {"passes": 2}, events={"pass"}), set())) == ["both"]


def test_one_event_unlocks_a_chain_in_dependency_order() -> None:
    # Declared backwards on purpose: the catalog orders dependencies first.
    catalog = Catalog(
        [
            ach("meta", milestone("achievements", 2)),
            ach("rich", milestone("xp", 100), deps=("second",)),
            ach("second", event("submission"), deps=("first",), xp=60),
            ach("first", event("submission"), xp=50),
        ]
    )
    got = catalog.evaluate(Stats(NOW, {"xp": 0, "achievements": 0}, events={"submission"}), set())
    assert ids(got) == ["first", "second", "rich", "meta"]


def test_dependency_not_met_blocks() -> None:
    catalog = Catalog([ach("a", event("pass")), ach("b", event("submission"), deps=("a",))])
    assert ids(catalog.evaluate(Stats(NOW, events={"submission"}), set())) == []
    assert ids(catalog.evaluate(Stats(NOW, events={"submission"}), {"a"})) == ["b"]


def test_catalog_refuses_duplicates_unknown_dependencies_and_cycles() -> None:
    with pytest.raises(AchievementError, match="'a' is declared twice"):
        Catalog([ach("a", event("pass")), ach("a", event("pass"))])
    with pytest.raises(AchievementError, match="unknown achievement 'ghost'"):
        Catalog([ach("a", event("pass"), deps=("ghost",))])
    with pytest.raises(AchievementError, match="cycle: a -> b -> a"):
        Catalog([ach("a", event("pass"), deps=("b",)), ach("b", event("pass"), deps=("a",))])


def test_builtin_catalog_loads_and_first_submission_unlocks_first_run() -> None:
    catalog = builtin()
    assert {
        "first-run",
        "first-pass",
        "streak-5",
        "perfect-score",
        "fastest-solver",
        "ten-passes",
        "night-owl",
    } <= {a.id for a in catalog}
    assert catalog.longest_timeframe == timedelta(days=7)
    events = submission_events(
        passed=True, first_pass=True, perfect=True, solver_rank=1, local_time=NOW
    )
    got = ids(catalog.evaluate(Stats(NOW, {"passes": 1, "xp": 100}, events=events), set()))
    assert got == ["first-run", "first-pass", "perfect-score", "fastest-solver"]


def test_builtin_collector_unlocks_through_a_chain() -> None:
    events = submission_events(
        passed=True, first_pass=True, perfect=True, solver_rank=1, local_time=NOW.replace(hour=2)
    )
    got = ids(builtin().evaluate(Stats(NOW, {"passes": 1}, events=events), set()))
    assert got[-1] == "collector" and "night-owl" in got


def test_submission_events() -> None:
    assert submission_events(
        passed=False, first_pass=False, perfect=False, solver_rank=None, local_time=NOW
    ) == {"submission"}
    second_solver = submission_events(
        passed=True,
        first_pass=True,
        perfect=False,
        solver_rank=2,
        local_time=NOW.replace(hour=4, minute=59),
    )
    assert second_solver == {"submission", "pass", "first_pass", "night_submission"}


GOOD = """
[[achievement]]
id = "busy"
name = "Busy"
description = "Five passes in a week."
rarity = "epic"
xp_reward = 40
dependencies = []
conditions = [{ type = "metric", metric = "passes", operator = "gte", value = 5, timeframe = "7d" }]
"""


def test_loads_a_custom_catalog_with_defaults() -> None:
    [a] = loads(GOOD)
    assert (a.id, a.rarity, a.xp_reward, a.category, a.icon) == (
        "busy",
        Rarity.EPIC,
        40,
        "general",
        "🏅",
    )
    assert a.conditions[0] == AchievementCondition(
        ConditionType.METRIC, "passes", Operator.GTE, 5.0, None, timedelta(days=7)
    )
    assert builtin().merged([a]).get("busy") == a


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('operator = "gte"', 'operator = "ge"'),
            "custom.toml: achievement[0] 'busy'.conditions[0].operator: "
            "must be one of gte, lte, eq, gt, lt, not 'ge'",
        ),
        (('rarity = "epic"', 'rarity = "mythic"'), "achievement[0] 'busy'.rarity: must be one of"),
        (('metric = "passes"', 'metric = "pases"'), "conditions[0].metric: unknown metric 'pases'"),
        (('timeframe = "7d"', 'timeframe = "a week"'), "conditions[0].timeframe: must look like"),
        (('timeframe = "7d"', 'timefrme = "7d"'), "conditions[0].timefrme: unknown field"),
        (("xp_reward = 40", "xp_reward = -3"), "'busy'.xp_reward: must be an integer >= 0"),
        (
            ('type = "metric", metric = "passes",', 'type = "metric",'),
            "conditions[0].metric: required for a metric condition",
        ),
        (('type = "metric"', 'type = "bogus"'), "conditions[0].type: must be one of metric"),
        (("value = 5", 'value = "five"'), "conditions[0].value: must be a number"),
        (('id = "busy"', "id = 3"), "achievement[0].id: must be a non-empty string"),
        (
            ("dependencies = []", 'dependencies = "first-pass"'),
            "'busy'.dependencies: must be an array",
        ),
        (('name = "Busy"', 'name = "Busy"\nsecret = 1'), "'busy'.secret: unknown field"),
        (("[[achievement]]", "[[achievment]]"), "custom.toml: unknown top-level key 'achievment'"),
        (('name = "Busy"', 'name = "Busy'), "custom.toml: not valid TOML"),
    ],
)
def test_invalid_catalogs_name_the_field(change: tuple[str, str], message: str) -> None:
    with pytest.raises(AchievementError) as info:
        loads(GOOD.replace(*change), source="custom.toml")
    assert message in str(info.value)


def test_milestone_and_streak_shape_rules() -> None:
    bad = GOOD.replace('type = "metric"', 'type = "milestone"').replace(
        'operator = "gte"', 'operator = "lt"'
    )
    with pytest.raises(AchievementError, match="a milestone is always gte"):
        loads(bad)
    streak = GOOD.replace(
        'type = "metric", metric = "passes", operator = "gte",', 'type = "streak",'
    )
    with pytest.raises(AchievementError, match="timeframe: not allowed for a streak condition"):
        loads(streak)


def test_timeframe_only_counts_what_has_history() -> None:
    bad = GOOD.replace('metric = "passes"', 'metric = "submissions"')
    with pytest.raises(AchievementError, match="'submissions' has no dated history"):
        loads(bad)


def test_parse_timeframe() -> None:
    assert parse_timeframe("30d") == timedelta(days=30)
    assert parse_timeframe("1y") == timedelta(days=365)
    assert parse_timeframe("12h") == timedelta(hours=12)
    assert parse_timeframe("2w") == timedelta(weeks=2)
    for bad in ("0d", "7", "d", "-1d", "7days"):
        with pytest.raises(ValueError, match="must look like"):
            parse_timeframe(bad)


@st.composite
def catalogs(draw: st.DrawFn) -> Catalog:
    """Random acyclic catalogs: achievement i may depend on any j < i, declared shuffled."""
    n = draw(st.integers(1, 8))
    names = sorted(EVENTS)
    items = []
    for i in range(n):
        deps = draw(st.sets(st.integers(0, i - 1), max_size=3)) if i else set()
        trigger = draw(st.sampled_from(names))
        items.append(ach(f"a{i}", event(trigger), deps=tuple(f"a{j}" for j in sorted(deps))))
    return Catalog(draw(st.permutations(items)))


@given(catalogs(), st.sets(st.sampled_from(sorted(EVENTS))), st.sets(st.integers(0, 7)))
def test_evaluation_respects_dependencies_and_reaches_a_fixpoint(
    catalog: Catalog, events: set[str], have: set[int]
) -> None:
    unlocked = {f"a{i}" for i in have if f"a{i}" in catalog}
    stats = Stats(NOW, events=frozenset(events))
    new = catalog.evaluate(stats, unlocked)
    seen = set(unlocked)
    for a in new:
        assert a.id not in seen
        assert set(a.dependencies) <= seen
        assert a.conditions[0].event in events
        seen.add(a.id)
    assert catalog.evaluate(stats, seen) == []
    for a in catalog:  # nothing left that could have unlocked
        if a.id not in seen:
            assert a.conditions[0].event not in events or not set(a.dependencies) <= seen
