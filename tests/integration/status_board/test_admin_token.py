"""Real process: no start with an empty, short or (in production) well-known admin token."""

import pytest

from tests.integration.status_board.conftest import BoardFactory

STRONG = "9f1c2e7a4b8d0c3e5f6a7b8c"


@pytest.mark.parametrize(
    "env",
    [
        {"STATUS_BOARD_ADMIN_TOKEN": ""},
        {"ENVIRONMENT": "production", "STATUS_BOARD_ADMIN_TOKEN": "local-status-admin-token"},
    ],
    ids=["empty", "production-default"],
)
def test_weak_admin_token_refuses_to_start(start_board: BoardFactory, env: dict[str, str]) -> None:
    """The process exits at once, naming STATUS_BOARD_ADMIN_TOKEN; nothing listens."""
    board = start_board(run=False, extra_env=env)
    code, output = board.refused_start()
    assert code not in (None, 0), output
    assert "STATUS_BOARD_ADMIN_TOKEN" in output
    assert "Traceback" not in output


def test_production_with_a_secret_starts_and_wants_it(start_board: BoardFactory) -> None:
    """With its own secret a production board starts; no token or an empty one is a 401."""
    board = start_board(extra_env={"ENVIRONMENT": "production", "STATUS_BOARD_ADMIN_TOKEN": STRONG})
    with board.admin() as admin:
        for headers in ({"Authorization": ""}, {"Authorization": "Bearer"}):
            assert admin.get("/admin/notices", headers=headers).status_code == 401
        strong = {"Authorization": f"Bearer {STRONG}"}
        assert admin.get("/admin/notices", headers=strong).status_code == 200
