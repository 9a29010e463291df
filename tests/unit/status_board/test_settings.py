"""The admin token: never empty or short, never the local default in production."""

from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from status_board.settings import LOCAL_ADMIN_TOKEN, Settings

STRONG = "0123456789abcdef01234567"


@pytest.mark.parametrize("token", ["", "   ", "short", "x" * 23, " " * 30])
def test_empty_or_short_token_is_refused(tmp_path: Path, token: str) -> None:
    """A token shorter than 24 characters (blank ones included) stops the settings."""
    with pytest.raises(ValidationError, match="STATUS_BOARD_ADMIN_TOKEN must be a secret"):
        Settings(data_dir=tmp_path, admin_token=token)


def test_local_default_is_refused_in_production(tmp_path: Path) -> None:
    """ENVIRONMENT=production refuses the well-known local token, given or left unset."""
    with pytest.raises(ValidationError, match="STATUS_BOARD_ADMIN_TOKEN holds a well-known local"):
        Settings(data_dir=tmp_path, environment="production", admin_token=LOCAL_ADMIN_TOKEN)
    with pytest.raises(ValidationError, match="STATUS_BOARD_ADMIN_TOKEN is not set"):
        Settings(data_dir=tmp_path, environment="production")


def test_strong_token_is_accepted_everywhere(tmp_path: Path) -> None:
    """A 24-character secret is fine in production; the local default is fine locally."""
    production = Settings(data_dir=tmp_path, environment="production", admin_token=STRONG)
    assert production.admin_token.get_secret_value() == STRONG
    assert Settings(data_dir=tmp_path).admin_token.get_secret_value() == LOCAL_ADMIN_TOKEN


async def test_empty_presented_token_is_refused(admin: httpx.AsyncClient) -> None:
    """`Authorization: Bearer ` (nothing after it) and no header at all answer 401."""
    for headers in ({"Authorization": "Bearer "}, {"Authorization": "Bearer"}, {}):
        admin.headers.pop("Authorization", None)
        response = await admin.get("/admin/notices", headers=headers)
        assert response.status_code == 401
