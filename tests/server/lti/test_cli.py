"""``python -m server lti-register`` and ``lti-platforms``, as an operator runs them."""

from __future__ import annotations

from pathlib import Path

from tests.server.test_cli import run_cli

DATABASES = ("sqlite", "postgres")

OPTIONS = [
    "--issuer",
    "https://canvas.school.org",
    "--client-id",
    "10000000000042",
    "--deployment-id",
    "7:abc",
    "--auth-url",
    "https://sso.canvaslms.com/api/lti/authorize_redirect",
    "--token-url",
    "https://sso.canvaslms.com/login/oauth2/token",
    "--jwks-url",
    "https://sso.canvaslms.com/api/lti/security/jwks",
]


def test_register_then_list(tmp_path: Path, database_url: str) -> None:
    env = {"CLASSROOM_DATABASE_URL": database_url}
    assert "no LMS platform" in run_cli(["lti-platforms"], tmp_path, **env).stdout
    done = run_cli(["lti-register", *OPTIONS], tmp_path, **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        "platform 1 registered: https://canvas.school.org client 10000000000042, deployment 7:abc"
    )
    # Again with a second deployment: the same platform, one more deployment.
    second = [*OPTIONS[:5], "8:def", *OPTIONS[6:]]
    again = run_cli(["lti-register", *second], tmp_path, **env)
    assert again.stdout.startswith("platform 1 updated:")
    listed = run_cli(["lti-platforms"], tmp_path, **env).stdout.splitlines()
    assert listed[0] == (
        "1\thttps://canvas.school.org\tclient 10000000000042\tdeployments 7:abc, 8:def"
    )
    assert listed[3] == "\tjwks https://sso.canvaslms.com/api/lti/security/jwks"


def test_bad_values_are_named(tmp_path: Path, database_url: str) -> None:
    bad = [*OPTIONS[:1], "canvas.school.org", *OPTIONS[2:]]
    done = run_cli(["lti-register", *bad], tmp_path, CLASSROOM_DATABASE_URL=database_url)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "error: issuer must be an http(s) URL, not 'canvas.school.org'"
    )
    missing = run_cli(
        ["lti-register", *OPTIONS[:-2]], tmp_path, CLASSROOM_DATABASE_URL=database_url
    )
    assert missing.returncode == 2 and "--jwks-url" in missing.stderr
